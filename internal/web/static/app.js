// Ripcord dashboard script. Everything works without it; with it:
//  - pages stay live: a server-sent event says "something changed", and
//    the page fetches its own HTML again and swaps the [data-live] sections;
//  - Halt and Roll back confirm in a dialog and submit in the background,
//    so the result arrives through the same live update.
(function () {
  'use strict';
  var status = document.getElementById('live-status');
  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { 'X-Ripcord-Refresh': '1' } })
      .then(function (r) {
        if (r.redirected && r.url.indexOf('/ui/login') >= 0) { location.href = r.url; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, 'text/html');
        doc.querySelectorAll('[data-live]').forEach(function (fresh) {
          var cur = document.getElementById(fresh.id);
          if (cur && cur.innerHTML !== fresh.innerHTML) {
            cur.replaceWith(document.importNode(fresh, true));
          }
        });
        document.body.dataset.refreshed = String(Date.now());
      })
      .catch(function () { /* the next event tries again */ })
      .finally(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var src = document.body.dataset.events;
  if (src && window.EventSource) {
    var es = new EventSource(src);
    es.onopen = function () { setStatus('live', 'Live'); };
    es.onerror = function () { setStatus('down', 'Reconnecting…'); };
    es.addEventListener('change', function (e) {
      document.body.dataset.lastEvent = e.lastEventId || '';
      refresh();
    });
    es.addEventListener('expired', function () {
      es.close();
      location.href = '/ui/login?why=' + encodeURIComponent('Your session expired. Sign in again.');
    });
  }

  // Confirmation in a dialog: fetch the confirmation page, show its form.
  var dialog = document.getElementById('confirm-dialog');
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[data-confirm]');
    if (!a || !dialog || !dialog.showModal) return;
    if (a.getAttribute('aria-disabled') === 'true') { e.preventDefault(); return; }
    e.preventDefault();
    fetch(a.href, { credentials: 'same-origin' })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var box = doc.querySelector('.confirm');
        if (!box) { location.href = a.href; return; }
        dialog.replaceChildren(document.importNode(box, true));
        var cancel = dialog.querySelector('[data-cancel]');
        if (cancel) cancel.addEventListener('click', function (ev) { ev.preventDefault(); dialog.close(); a.focus(); });
        var form = dialog.querySelector('form');
        if (form) form.addEventListener('submit', submitInBackground);
        dialog.showModal();
        var go = dialog.querySelector('button[type=submit]');
        if (go) go.focus();
      });
  });

  function submitInBackground(e) {
    e.preventDefault();
    var form = e.target;
    var button = form.querySelector('button[type=submit]');
    button.disabled = true;
    button.textContent = 'Working…';
    fetch(form.action, {
      method: 'POST', credentials: 'same-origin', body: new URLSearchParams(new FormData(form)),
      headers: { 'X-Ripcord-Async': '1' }
    })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (res.ok) {
          dialog.close();
          var flash = document.getElementById('flash');
          if (flash) { flash.hidden = false; flash.textContent = res.body.done + ': done.'; }
          refresh();
          return;
        }
        var err = dialog.querySelector('.dialog-error') || document.createElement('p');
        err.className = 'error dialog-error';
        err.setAttribute('role', 'alert');
        err.textContent = res.body.error || 'The action failed.';
        form.before(err);
        button.disabled = false;
        button.textContent = 'Try again';
      })
      .catch(function () {
        button.disabled = false;
        button.textContent = 'Try again';
      });
  }
})();
