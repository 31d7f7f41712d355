// povguard: progressive enhancement only; every page works without this file.
// "Select all" checkbox of the worklist's bulk assignment.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("input.select-all[data-target]");
    Array.prototype.forEach.call(boxes, function (box) {
      var form = box.form;
      if (!form) { return; }
      box.hidden = false;
      box.addEventListener("change", function () {
        var items = form.querySelectorAll('input[type="checkbox"][name="' + box.dataset.target + '"]');
        Array.prototype.forEach.call(items, function (item) { item.checked = box.checked; });
      });
    });
  });
})();
