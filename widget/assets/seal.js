/*
 * altyn checkout script's sealing frame: a hidden altyn page that the
 * loader (altyn.js, altyn.Checkout) sends the merchant form's card data to
 * by postMessage. The WebAssembly core seals it into a cryptogram here and
 * the cryptogram goes back to the merchant's page; the card data itself
 * never travels over the network from either page.
 */
(function () {
  'use strict';
  var TAG = 'altyn-widget';
  var core = null;
  var failed = false;
  var queue = [];

  window.altynCoreReady = function (c) {
    core = c;
    queue.splice(0).forEach(run);
  };

  try {
    var go = new Go();
    WebAssembly.instantiateStreaming(fetch(document.body.getAttribute('data-wasm')), go.importObject)
      .then(function (r) {
        go.run(r.instance);
      })
      .catch(function () {
        failed = true;
        queue.splice(0).forEach(run);
      });
  } catch (e) {
    failed = true;
  }

  function run(job) {
    var d = job.data;
    function reply(m) {
      m.altyn = TAG;
      m.type = 'cryptogram';
      m.id = d.id;
      window.parent.postMessage(m, job.origin);
    }
    if (!core) {
      reply({error: {code: 'load_failed', message: 'the checkout script could not be loaded'}});
      return;
    }
    core.init(location.origin, String(d.publicId)).then(function () {
      return core.cryptogram(d.cardData, d.binding || null);
    }).then(function (r) {
      reply({cryptogram: r.cryptogram, sealMs: r.sealMs});
    }, function (err) {
      reply(err && err.fields ? {fields: err.fields} : {error: {code: err && err.code, message: err && err.message}});
    });
  }

  window.addEventListener('message', function (e) {
    var m = e.data;
    if (e.source !== window.parent || !m || m.altyn !== TAG || m.type !== 'cryptogram') {
      return;
    }
    var job = {origin: e.origin, data: m};
    if (core || failed) {
      run(job);
    } else {
      queue.push(job);
    }
  });
  window.parent.postMessage({altyn: TAG, type: 'ready'}, '*');
})();
