// The time-zone picker (templates/_zone_picker.html): a filter box that narrows the grouped <select> as one types a
// city, country, zone name or abbreviation (each typed word starts a word of the zone's name or label). Without this script the <select> works alone.
(function () {
  "use strict";

  function plain(text) {
    return (text || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  }

  function setUp(box) {
    if (box.getAttribute("data-zone-picker-ready")) return;
    box.setAttribute("data-zone-picker-ready", "1");
    var filter = box.querySelector(".zone-filter"), select = box.querySelector("select"),
        count = box.querySelector(".zone-count");
    if (!filter || !select) return;
    // The whole list, kept aside: filtering rebuilds the <select> from it (hiding <option>s is not portable).
    var groups = Array.prototype.map.call(select.querySelectorAll("optgroup"), function (group) {
      return {
        label: group.label,
        options: Array.prototype.map.call(group.querySelectorAll("option"), function (option) {
          return { option: option, words: plain(option.value + " " + option.textContent).split(/[^a-z0-9+:-]+/) };
        })
      };
    });
    var loose = Array.prototype.filter.call(select.children, function (el) { return el.tagName === "OPTION"; });

    function apply() {
      var terms = plain(filter.value).split(/[^a-z0-9+:-]+/).filter(Boolean), chosen = select.value, shown = 0,
          first = null, best = -1;
      // each typed word starts a word of the zone ("sao pau", "india", "gmt+5"); whole words rank first
      function matches(item) {
        return terms.every(function (t) { return item.words.some(function (w) { return w.indexOf(t) === 0; }); });
      }
      function score(item) {
        return terms.filter(function (t) { return item.words.indexOf(t) !== -1; }).length;
      }
      select.textContent = "";
      if (!terms.length) loose.forEach(function (option) { select.appendChild(option); });
      groups.forEach(function (group) {
        var el = document.createElement("optgroup");
        el.label = group.label;
        group.options.forEach(function (item) {
          var hit = matches(item);
          if (hit) {
            shown += 1;
            if (score(item) > best) { best = score(item); first = item.option; }
          }
          if (hit || item.option.value === chosen) el.appendChild(item.option);  // the choice made stays listed
        });
        if (el.children.length) select.appendChild(el);
      });
      // typing narrows to a zone: the best match is taken, unless the zone already chosen is among the matches
      var keep = groups.some(function (group) {
        return group.options.some(function (item) { return item.option.value === chosen && matches(item); });
      });
      select.value = keep || !first ? chosen : first.value;
      if (select.value !== chosen) select.dispatchEvent(new Event("change", { bubbles: true }));
      if (count) {
        count.hidden = !terms.length;
        count.textContent = !terms.length ? "" : shown === 1 ? "1 zone matches"
          : shown ? shown + " zones match" : "No zone matches “" + filter.value + "”";
      }
    }

    filter.hidden = false;
    filter.addEventListener("input", apply);
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); select.focus(); }  // Enter picks, it does not submit
    });
  }

  function init() { document.querySelectorAll("[data-zone-picker]").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
  document.addEventListener("htmx:afterSwap", init);
})();
