// The hours editor's rows: show a day's intervals, add one, remove one. The form posts plain
// hours-<weekday>-<n>-opens/-closes fields either way; without this script every row simply shows.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("hours-form");
  if (!form) return;  // a viewer's page: nothing to edit

  const isEmpty = (slot) => [...slot.querySelectorAll("input")].every((input) => !input.value);

  const refresh = (day) => {
    const shown = [...day.querySelectorAll(".hours-interval")].filter((slot) => !slot.hidden);
    day.querySelector(".hours-closed").hidden = shown.length > 0;
  };

  const add = (day) => {
    let slot = [...day.querySelectorAll(".hours-interval")].find((s) => s.hidden);
    if (!slot) {
      // Every row is in use: a new one, numbered after the last (the server reads any numbers).
      const slots = day.querySelectorAll(".hours-interval");
      const last = slots[slots.length - 1];
      const index = Math.max(...[...slots].map((s) => Number(s.dataset.index))) + 1;
      slot = last.cloneNode(true);
      slot.dataset.index = index;
      slot.querySelectorAll("input, label").forEach((element) => {
        for (const attribute of ["name", "id", "for"]) {
          const value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace(/-\d+-(opens|closes)$/, `-${index}-$1`));
        }
        if (element.tagName === "INPUT") element.value = "";
      });
      last.after(slot);
    }
    slot.hidden = false;
    refresh(day);
    slot.querySelector("input").focus();
  };

  const remove = (slot) => {
    const day = slot.closest(".hours-day");
    slot.querySelectorAll("input").forEach((input) => { input.value = ""; });  // an empty interval is no interval
    slot.hidden = true;
    refresh(day);
    day.querySelector(".hours-add").focus();
  };

  form.querySelectorAll(".hours-day").forEach((day) => {
    day.querySelectorAll(".hours-interval").forEach((slot) => { slot.hidden = isEmpty(slot); });
    day.querySelectorAll(".hours-remove, .hours-add").forEach((button) => { button.hidden = false; });
    refresh(day);
  });
  form.querySelector(".hours-nojs-help").hidden = true;

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.classList.contains("hours-add")) add(button.closest(".hours-day"));
    if (button.classList.contains("hours-remove")) remove(button.closest(".hours-interval"));
  });
});
