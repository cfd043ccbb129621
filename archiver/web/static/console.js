// Redact by selection: text selected inside a responsive record fills that record's
// "words to redact" field. The field can also be typed into, so the keyboard is enough.
"use strict";
document.addEventListener("mouseup", function () {
  var sel = window.getSelection();
  if (!sel || sel.isCollapsed) { return; }
  var node = sel.anchorNode && (sel.anchorNode.nodeType === 1 ? sel.anchorNode : sel.anchorNode.parentElement);
  var quote = node && node.closest ? node.closest("blockquote.redactable") : null;
  if (!quote || !quote.contains(sel.focusNode)) { return; }
  var field = document.getElementById(quote.getAttribute("data-target"));
  if (field) { field.value = sel.toString(); }
});
