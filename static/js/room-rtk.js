// The RealtimeKit room: loads the pinned UI Kit and hands the participant token (from a data- attribute of
// <rtk-meeting>, rendered only on this person's own page) to the core SDK loaded by the page.
const element = document.getElementById("rtk-meeting");
const statusLine = document.getElementById("rtk-status");

function say(text) {
  if (statusLine) statusLine.textContent = text;
}

async function enterRoom() {
  const token = element.dataset.authToken;
  const loader = element.dataset.uiLoader;
  if (!token || !loader) {
    say("The meeting room could not be prepared. Reload the page to try again.");
    return;
  }
  delete element.dataset.authToken; // keep the token out of the DOM once it is read
  try {
    const { defineCustomElements } = await import(loader);
    defineCustomElements();
    if (typeof window.RealtimeKitClient === "undefined") {
      throw new Error("the RealtimeKit SDK did not load");
    }
    const meeting = await window.RealtimeKitClient.init({ authToken: token });
    element.meeting = meeting;
    say("");
    meeting.self.on("roomLeft", ({ state }) => {
      say(state === "ended" ? "The meeting has ended." : "You have left the meeting.");
    });
  } catch (error) {
    say("The room is not reachable right now. Please reload the page to try again.");
    console.error("RealtimeKit:", error);
  }
}

if (element) enterRoom();
