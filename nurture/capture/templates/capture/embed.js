(function () {
  // Carries the host page's UTM parameters, referrer and URL into the form, so the lead keeps its source.
  var script = document.currentScript;
  var params = new URLSearchParams(window.location.search);
  var query = new URLSearchParams({ embed: "1", ref: document.referrer, url: window.location.href });
  ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (k) {
    if (params.get(k)) { query.set(k, params.get(k)); }
  });
  // The tracking snippet's visitor id stitches the visitor's page views to the lead (it also sets it later).
  var aid = window.nurture && window.nurture.anonymousId ? window.nurture.anonymousId() : "";
  if (aid) { query.set("aid", aid); }
  var frame = document.createElement("iframe");
  frame.setAttribute("data-nurture-form", {{ slug|safe }});
  frame.src = {{ page|safe }} + "?" + query.toString();
  frame.title = {{ slug|safe }};
  frame.style.cssText = "width:100%;min-height:640px;border:0";
  script.parentNode.insertBefore(frame, script);
})();
