// The RealtimeKit room: hands the participant token (from a data- attribute of <rtk-meeting>, rendered only on
// this person's own page) to the core SDK, and the meeting to the UI Kit. Both are vendored bundles loaded by
// the page with SRI (globals RealtimeKitClient and RtkUiKit). data-chat="off" (the session's chat_enabled)
// starts the SDK without its chat module: meeting.chat is then undefined and the UI Kit shows no chat.
const element = document.getElementById("rtk-meeting");
const statusLine = document.getElementById("rtk-status");

function say(text, problem = false) {
  if (!statusLine) return;
  statusLine.textContent = text;
  statusLine.classList.toggle("flash", problem);
  statusLine.classList.toggle("flash-error", problem);
  if (problem) statusLine.setAttribute("role", "alert");
}

async function enterRoom() {
  const token = element.dataset.authToken;
  const chat = element.dataset.chat !== "off";
  delete element.dataset.authToken; // keep the token out of the DOM once it is read
  if (!token) {
    say("The meeting room could not be prepared. Reload the page to try again.", true);
    return;
  }
  if (typeof window.RealtimeKitClient === "undefined" || typeof window.RtkUiKit === "undefined") {
    say("The meeting room could not be loaded. Reload the page to try again.", true);
    return;
  }
  window.RtkUiKit.defineCustomElements();
  try {
    const meeting = await window.RealtimeKitClient.init({ authToken: token, modules: { chat } });
    element.meeting = meeting;
    say("");
    meeting.self.on("roomLeft", ({ state }) => {
      say(state === "ended" ? "The meeting has ended." : "You have left the meeting.");
      // The provider's meeting ended (the host ended it for all): on to the session's ended page, as join.js does
      // when the portal says the session is over.
      const endedUrl = element.closest("[data-ended-url]")?.dataset.endedUrl;
      if (state === "ended" && endedUrl) window.location.assign(endedUrl);
    });
  } catch (error) {
    element.hidden = true;
    element.style.display = "none"; // the UI Kit's :host { display: block } outranks [hidden]
    say(
      "The meeting room cannot open: the video service cannot be reached right now. " +
        "Check your connection and reload this page in a moment.",
      true,
    );
    console.error("RealtimeKit:", error);
  }
}

if (element) enterRoom();
