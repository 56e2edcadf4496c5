"""The people pages of admins (add, invite, import a roster): views over accounts.people and roster."""
