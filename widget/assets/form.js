/*
 * altyn payment form: the DOM side of the card form, in the widget's iframe
 * or on the hosted invoice page. Formatting, checks, sealing and the API
 * calls are the WebAssembly core's (altynCore, widget/wasm); this file
 * reads the inputs, shows what the core says, runs 3-D Secure in a frame
 * and tells the merchant's page the outcome. The form is usable before the
 * core has loaded; a press of Pay before then waits for it.
 */
(function () {
  'use strict';
  var TAG = 'altyn-widget';
  var FIELDS = ['number', 'expiry', 'cvv'];
  var EXPONENTS = {
    BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0,
    VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3, CLF: 4, UYW: 4
  };
  var BRANDS = {
    Visa: 'Visa', Mastercard: 'Mastercard', MIR: 'МИР', Maestro: 'Maestro',
    AmericanExpress: 'American Express', UnionPay: 'UnionPay', JCB: 'JCB'
  };

  function $(id) {
    return document.getElementById(id);
  }

  var T = JSON.parse($('texts').textContent);
  var root = $('dialog');
  var hosted = root.getAttribute('data-mode') === 'hosted';
  var lang = document.documentElement.lang;
  var form = $('card-form');
  var payButton = $('pay');
  var inputs = {number: $('number'), expiry: $('expiry'), cvv: $('cvv')};
  var threeds = $('threeds');
  var acs = null; // the bank's frame, made when 3-D Secure starts
  var result = $('result');

  var payment = null; // what to pay: amount, currency, publicId, …
  var parentOrigin = null; // the merchant page, in the widget's iframe
  var core = null; // the WebAssembly core, once loaded
  var coreFailed = false;
  var queued = false; // Pay was pressed before the core was ready
  var busy = false;
  var touched = {};
  var current = null; // the payment being made
  var marks = {script: performance.timeOrigin + performance.now(), frameStart: performance.timeOrigin};

  function mark(name) {
    if (!marks[name]) {
      marks[name] = performance.timeOrigin + performance.now();
    }
  }

  // tell sends a message to the merchant's page (widget mode only).
  function tell(message) {
    if (!hosted && parentOrigin) {
      message.altyn = TAG;
      window.parent.postMessage(message, parentOrigin);
    }
  }

  function sendTimings() {
    tell({type: 'timings', marks: marks});
  }

  // --- the WebAssembly core ----------------------------------------------------
  // Its download starts at once, as this script runs (widget.go puts the
  // script in the page); compiling and running it — tens of milliseconds
  // each on this frame's main thread — wait until the form is interactive,
  // so that they never hold up the form. wasm_exec.js (Go's glue) loads
  // async for the same reason.

  window.altynCoreReady = function (c) {
    core = c;
    mark('wasmReady');
    sendTimings();
    startKey();
    reformat();
    refresh();
    if (queued) {
      queued = false;
      submit();
    }
  };

  function coreFailedToLoad() {
    coreFailed = true;
    setBusy(false);
    showFormError(T.loadFailed);
  }

  var download = null;
  var running = false;
  try {
    download = fetch(root.getAttribute('data-wasm'));
    download.catch(coreFailedToLoad);
  } catch (e) {
    coreFailedToLoad();
  }

  function runCore() {
    if (!download || running) {
      return;
    }
    if (typeof Go !== 'function') { // wasm_exec.js is still loading
      $('wasm-exec').addEventListener('load', runCore);
      $('wasm-exec').addEventListener('error', coreFailedToLoad);
      return;
    }
    running = true;
    var go = new Go();
    WebAssembly.instantiateStreaming(download, go.importObject).then(function (r) {
      go.run(r.instance);
    }).catch(coreFailedToLoad);
  }

  function startKey() {
    if (core && payment) {
      core.init(location.origin, payment.publicId).then(function () {
        mark('keyReady');
        sendTimings();
      }, function () {
        // Reported when the payer presses Pay.
      });
    }
  }

  // --- what to pay ------------------------------------------------------------

  var SYMBOLS = {RUB: '₽', USD: '$', EUR: '€', GBP: '£', KZT: '₸', BYN: 'Br', UAH: '₴', CNY: '¥', JPY: '¥'};

  // money formats minor units for display: "1 500,50 ₽" in Russian, "RUB
  // 1,500.50" or "$1,500.50" in English. By hand, not with Intl.NumberFormat,
  // whose first use costs 40–70 ms of the form's start-up.
  function money(minor, currency) {
    var exp = Object.prototype.hasOwnProperty.call(EXPONENTS, currency) ? EXPONENTS[currency] : 2;
    var digits = String(Math.abs(Math.round(Number(minor))));
    while (digits.length <= exp) {
      digits = '0' + digits;
    }
    var whole = digits.slice(0, digits.length - exp);
    var frac = exp > 0 ? digits.slice(digits.length - exp) : '';
    var ru = lang === 'ru';
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ru ? '\u00a0' : ',');
    var number = whole + (frac ? (ru ? ',' : '.') + frac : '');
    var symbol = SYMBOLS[currency];
    if (ru) {
      return number + '\u00a0' + (symbol || currency);
    }
    return symbol && currency !== 'RUB' ? symbol + number : currency + '\u00a0' + number;
  }

  function payLabel() {
    return payButton.getAttribute('data-label') + (payment ? ' ' + money(payment.amount, payment.currency) : '');
  }

  function configure(p) {
    payment = p;
    $('amount').textContent = money(p.amount, p.currency);
    if (p.description) {
      $('description').textContent = p.description;
    }
    payButton.textContent = payLabel();
    startKey();
    inputs.number.focus();
    resize();
    mark('interactive');
    sendTimings();
    setTimeout(runCore, 0);
  }

  // --- the fields ---------------------------------------------------------------

  function values() {
    return {number: inputs.number.value, expiry: inputs.expiry.value, cvv: inputs.cvv.value};
  }

  function digitsBefore(text, pos) {
    return text.slice(0, pos).replace(/\D/g, '').length;
  }

  // caretAfter puts the caret after the n-th digit of the input's value.
  function caretAfter(input, n) {
    var v = input.value;
    var pos = 0;
    for (var seen = 0; pos < v.length && seen < n; pos++) {
      if (v[pos] >= '0' && v[pos] <= '9') {
        seen++;
      }
    }
    if (document.activeElement === input) {
      input.setSelectionRange(pos, pos);
    }
  }

  function formatNumber() {
    var input = inputs.number;
    if (!core) {
      input.value = input.value.replace(/[^\d ]/g, '');
      return;
    }
    var n = digitsBefore(input.value, input.selectionStart == null ? input.value.length : input.selectionStart);
    var f = core.format(input.value);
    if (f.text !== input.value) {
      input.value = f.text;
      caretAfter(input, n);
    }
    $('brand').textContent = BRANDS[f.brand] || '';
    inputs.cvv.maxLength = f.brand === 'AmericanExpress' || f.brand === '' ? 4 : 3;
  }

  function formatExpiry(deleting) {
    var input = inputs.expiry;
    input.value = core ? core.formatExpiry(input.value, deleting) : input.value.replace(/[^\d /]/g, '');
  }

  function reformat() {
    formatNumber();
    if (inputs.expiry.value) {
      formatExpiry(true);
    }
    inputs.cvv.value = inputs.cvv.value.replace(/\D/g, '');
  }

  inputs.number.addEventListener('input', function () {
    formatNumber();
    refresh();
  });
  inputs.expiry.addEventListener('input', function (e) {
    formatExpiry(!!e.inputType && e.inputType.indexOf('delete') === 0);
    refresh();
  });
  inputs.cvv.addEventListener('input', function () {
    inputs.cvv.value = inputs.cvv.value.replace(/\D/g, '');
    refresh();
  });
  FIELDS.forEach(function (f) {
    inputs[f].addEventListener('blur', function () {
      if (inputs[f].value) {
        touched[f] = true;
      }
      refresh();
    });
  });

  function showError(field, code) {
    var input = inputs[field];
    $(field + '-error').textContent = code ? T['err.' + code] || code : '';
    input.setAttribute('aria-invalid', code ? 'true' : 'false');
    input.classList.toggle('invalid', !!code);
  }

  function showFormError(text) {
    $('form-error').textContent = text || '';
  }

  // refresh shows each field's error once the payer has finished it (left
  // it, or typed it to its full length).
  function refresh() {
    if (!core) {
      return;
    }
    var c = core.check(values());
    FIELDS.forEach(function (f) {
      var code = c.errors[f];
      showError(f, code && (touched[f] || c.complete[f]) ? code : '');
    });
    resize();
  }

  function setBusy(on, label) {
    busy = on;
    payButton.disabled = on;
    payButton.setAttribute('aria-busy', on ? 'true' : 'false');
    payButton.textContent = on ? label : payLabel();
    FIELDS.forEach(function (f) {
      inputs[f].readOnly = on;
    });
  }

  // --- paying -------------------------------------------------------------------

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (!busy) {
      marks.pressed = performance.timeOrigin + performance.now();
      delete marks.cryptogram;
      submit();
    }
  });

  function randomKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) {
      return (x + 256).toString(16).slice(1);
    }).join('');
  }

  function submit() {
    if (!payment) {
      return;
    }
    showFormError('');
    if (!core) {
      if (coreFailed) {
        showFormError(T.loadFailed);
        return;
      }
      queued = true;
      setBusy(true, T.preparing);
      return;
    }
    touched = {number: true, expiry: true, cvv: true};
    var c = core.check(values());
    var first = null;
    FIELDS.forEach(function (f) {
      showError(f, c.errors[f]);
      if (c.errors[f] && !first) {
        first = f;
      }
    });
    if (first) {
      setBusy(false);
      inputs[first].focus();
      resize();
      return; // nothing is sent
    }
    setBusy(true, T.paying);
    var method, request;
    if (hosted) {
      method = 'PayInvoice';
      request = {id: payment.invoice, language: lang, idempotencyKey: randomKey()};
    } else {
      method = 'Pay';
      request = {
        publicId: payment.publicId,
        amount: {amount: String(payment.amount), currency: payment.currency},
        twoStage: !!payment.twoStage,
        invoiceId: payment.invoiceId,
        accountId: payment.accountId,
        description: payment.description,
        email: payment.email,
        data: payment.data,
        language: lang,
        idempotencyKey: randomKey()
      };
    }
    // The cryptogram is bound to this amount, currency and order: it opens
    // for no other payment.
    var binding = {amount: String(payment.amount), currency: payment.currency, invoiceId: payment.invoiceId || ''};
    core.pay(method, values(), request, binding).then(function (r) {
      marks.cryptogram = performance.timeOrigin + r.sealedAt;
      marks.sealMs = r.sealMs;
      sendTimings();
      handle(r.response.payment);
    }, function (err) {
      setBusy(false);
      if (err && err.fields) {
        FIELDS.forEach(function (f) {
          showError(f, err.fields[f]);
        });
        return;
      }
      showFormError(describe(err));
      resize();
    });
  }

  function describe(err) {
    if (!err || err.code === 'unavailable') {
      return T.unavailable;
    }
    if (hosted && err.code === 'failed_precondition') {
      return T.invoiceBusy;
    }
    return T.failed + (err.message ? ' (' + err.message + ')' : '');
  }

  function handle(p) {
    current = p;
    switch (p.status) {
      case 'PAYMENT_STATUS_AWAITING_AUTHENTICATION':
        return startThreeDS(p);
      case 'PAYMENT_STATUS_COMPLETED':
      case 'PAYMENT_STATUS_AUTHORIZED':
        return succeeded(p);
      case 'PAYMENT_STATUS_DECLINED':
      case 'PAYMENT_STATUS_CANCELLED':
        return declined(p);
      default:
        return waitFor(p, 0);
    }
  }

  // waitFor polls a payment whose acquirer answer is outstanding.
  function waitFor(p, tries) {
    show(result);
    setResult(T.pending, '', '');
    if (tries > 30) {
      return declined({status: 'PAYMENT_STATUS_PENDING', cardholderMessage: T.failed});
    }
    setTimeout(function () {
      core.status(p.id, lang).then(function (r) {
        var q = r.payment;
        if (q.status === 'PAYMENT_STATUS_PENDING') {
          waitFor(q, tries + 1);
        } else {
          handle(q);
        }
      }, function () {
        waitFor(p, tries + 1);
      });
    }, 2000);
  }

  // --- 3-D Secure: the bank's page in a frame of at least 500 × 500 -------------

  function startThreeDS(p) {
    if (!acs) {
      acs = document.createElement('iframe');
      acs.id = 'acs';
      acs.name = 'altyn-acs';
      acs.title = $('threeds-title').textContent;
      threeds.appendChild(acs);
      // Count the pages the bank's frame shows (tests wait on it); the
      // frame's first, empty document has loaded by now.
      var pages = 0;
      acs.addEventListener('load', function () {
        acs.setAttribute('data-pages', String(++pages));
      });
    }
    show(threeds);
    root.classList.add('wide');
    var post = document.createElement('form');
    post.method = 'post';
    post.action = p.threeDs.acsUrl;
    post.target = acs.name;
    [['PaReq', p.threeDs.paReq], ['MD', p.threeDs.md], ['TermUrl', location.origin + '/widget/3ds']].forEach(function (kv) {
      var input = document.createElement('input');
      input.type = 'hidden';
      input.name = kv[0];
      input.value = kv[1];
      post.appendChild(input);
    });
    document.body.appendChild(post);
    post.submit();
    document.body.removeChild(post);
    $('threeds-title').setAttribute('tabindex', '-1');
    $('threeds-title').focus();
    resize();
  }

  window.addEventListener('message', function (e) {
    var m = e.data;
    if (!acs || e.source !== acs.contentWindow || e.origin !== location.origin || !m || m.altyn !== TAG || m.type !== '3ds-done') {
      return;
    }
    // The frame only says that the bank is done; the outcome is read from
    // the API.
    root.classList.remove('wide');
    show(result);
    setResult(T.pending, '', '');
    core.status(current.id, lang).then(function (r) {
      if (r.payment.status === 'PAYMENT_STATUS_AWAITING_AUTHENTICATION') {
        return declined({status: r.payment.status, cardholderMessage: T.failed});
      }
      handle(r.payment);
    }, function (err) {
      declined({status: 'PAYMENT_STATUS_PENDING', cardholderMessage: describe(err)});
    });
  });

  // --- outcome --------------------------------------------------------------------

  function show(section) {
    form.hidden = section !== form;
    threeds.hidden = section !== threeds;
    result.hidden = section !== result;
    if (section !== threeds && acs) {
      acs.removeAttribute('src');
    }
    resize();
  }

  function setResult(title, text, note, warn) {
    $('result-title').textContent = title;
    $('result-text').textContent = text;
    $('result-note').textContent = note;
    $('result-note').hidden = !note;
    $('result-note').classList.toggle('warn', !!warn);
    $('retry').hidden = true;
    $('done').hidden = true;
    if ($('back')) {
      $('back').hidden = true;
    }
  }

  function summary(p) {
    return {
      id: p.id,
      transactionId: p.transactionId ? Number(p.transactionId) : undefined,
      status: p.status,
      amount: payment.amount,
      currency: payment.currency,
      reasonCode: p.reasonCode || 0,
      cardMask: p.card ? p.card.mask : undefined,
      subscriptionId: p.subscriptionId || undefined
    };
  }

  function succeeded(p) {
    setBusy(false);
    show(result);
    result.className = 'result ok';
    var two = p.status === 'PAYMENT_STATUS_AUTHORIZED';
    var text = money(payment.amount, payment.currency);
    if (p.card) {
      text += ' · ' + T.paidWith + ' ' + (BRANDS[p.card.brand] || '') + ' •••• ' + p.card.lastFour;
    }
    // A schedule was asked for: say whether the server made it.
    var note = payment.recurrent ? (p.subscriptionId ? T.recurrentOK : T.recurrentNote) : '';
    setResult(two ? T.authorized : T.success, two ? T.authorizedText + ' ' + text : text, note, !p.subscriptionId);
    if (hosted) {
      if (payment.successUrl) {
        $('back').href = payment.successUrl;
        $('back').hidden = false;
      }
    } else {
      $('done').textContent = T.done;
      $('done').hidden = false;
    }
    result.focus();
    tell({type: 'result', success: true, payment: summary(p)});
    resize();
  }

  function declined(p) {
    setBusy(false);
    show(result);
    result.className = 'result bad';
    var reason = p.cardholderMessage || T.failed;
    setResult(T.declined, reason, '');
    $('retry').textContent = T.retry;
    $('retry').hidden = false;
    if (hosted) {
      if (payment.failUrl) {
        $('back').href = payment.failUrl;
        $('back').hidden = false;
      }
    } else {
      $('done').textContent = T.done;
      $('done').hidden = false;
    }
    result.focus();
    tell({type: 'result', success: false, reason: reason, payment: p.id ? summary(p) : undefined});
    resize();
  }

  $('retry').addEventListener('click', function () {
    inputs.cvv.value = '';
    touched = {};
    FIELDS.forEach(function (f) {
      showError(f, '');
    });
    show(form);
    inputs.number.focus();
  });
  $('done').addEventListener('click', function () {
    tell({type: 'close'});
  });

  // --- the frame: size, closing, focus -----------------------------------------

  function resize() {
    // The dialog's own height (the document's scrollHeight never shrinks
    // below the frame's), plus room for its shadow.
    var bottom = parseFloat(getComputedStyle(document.body).paddingBottom) || 0;
    tell({type: 'resize', height: root.offsetTop + root.offsetHeight + bottom, wide: !threeds.hidden});
  }

  if (!hosted) {
    $('close').addEventListener('click', function () {
      tell({type: 'close'});
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') {
        tell({type: 'close'});
        return;
      }
      if (e.key !== 'Tab') {
        return;
      }
      // Keep the focus inside the dialog.
      var all = Array.prototype.filter.call(root.querySelectorAll('button, input, a[href], iframe, [tabindex="-1"]'), function (el) {
        return !el.disabled && el.offsetParent !== null && el.tabIndex >= 0;
      });
      if (!all.length) {
        return;
      }
      var first = all[0];
      var last = all[all.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        last.focus();
        e.preventDefault();
      } else if (!e.shiftKey && document.activeElement === last) {
        first.focus();
        e.preventDefault();
      }
    });
    if (window.ResizeObserver) {
      new ResizeObserver(resize).observe(root);
    }
  }

  // --- start ----------------------------------------------------------------------
  // The hosted page has its invoice in the page. In the widget's iframe the
  // loader gives the payment and its page's origin in the URL's fragment
  // (never sent to any server; no card data in it), so the form needs no
  // round trip to the merchant's page before it is usable. Messages go back
  // to that origin only: a page that claims another origin hears nothing.
  // A loader that does not (an older, cached one) sends them by an 'init'
  // message in answer to 'ready'.

  function fromFragment() {
    try {
      var given = JSON.parse(decodeURIComponent(location.hash.slice(1)));
      var origin = new URL(given.origin).origin;
      if (origin === given.origin && given.payment && typeof given.payment === 'object') {
        return {origin: origin, payment: given.payment};
      }
    } catch (e) {
      // No fragment, or not the loader's.
    }
    return null;
  }

  if (hosted) {
    configure(JSON.parse(root.getAttribute('data-config')));
  } else {
    var given = location.hash.length > 1 ? fromFragment() : null;
    if (given) {
      parentOrigin = given.origin;
      configure(given.payment);
      tell({type: 'ready', configured: true});
    } else {
      window.addEventListener('message', function (e) {
        var m = e.data;
        if (e.source !== window.parent || !m || m.altyn !== TAG || m.type !== 'init' || payment) {
          return;
        }
        mark('init');
        parentOrigin = e.origin;
        configure(m.payment);
      });
      window.parent.postMessage({altyn: TAG, type: 'ready'}, '*');
    }
  }
})();
