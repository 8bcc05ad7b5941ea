/*
 * altyn payment widget loader. Include it with one tag:
 *
 *   <script src="https://ALTYN/widget/altyn.js"></script>
 *
 * then
 *
 *   new altyn.Widget({language: 'ru-RU'}).charge(options, onSuccess, onFail)
 *   new altyn.Widget().auth(options, onSuccess, onFail)          // two-stage
 *   new altyn.Widget().start(options).then(result => …)          // a Promise
 *   new altyn.Checkout({publicId}).createPaymentCryptogram(card)  // own form
 *
 * The card form opens in an iframe served by altyn, so this page's scripts
 * cannot read the card fields; the card is sealed there by altyn's
 * WebAssembly core and sent to altyn only. See docs/widget.md.
 */
(function (global) {
  'use strict';
  if (global.altyn && global.altyn.Widget) {
    return;
  }
  var TAG = 'altyn-widget';
  var script = document.currentScript;
  var widgetBase = new URL('.', script && script.src ? script.src : location.href).href; // …/widget/
  var altynOrigin = new URL(widgetBase).origin;

  // ISO 4217 currencies whose minor unit is not 1/100 (as server/money).
  var EXPONENTS = {
    BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0,
    VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3, CLF: 4, UYW: 4
  };

  // minorUnits turns an amount in major units, as CloudPayments' widget
  // takes it (1500.5 RUB), into minor units (150050) by its decimal text,
  // never by floating-point arithmetic. An amount with more decimals than
  // the currency has (0.1 + 0.2) is refused rather than rounded.
  function minorUnits(amount, currency) {
    var exp = Object.prototype.hasOwnProperty.call(EXPONENTS, currency) ? EXPONENTS[currency] : 2;
    var text = typeof amount === 'number' ? String(amount) : String(amount == null ? '' : amount).trim().replace(',', '.');
    var m = /^(\d+)(?:\.(\d+))?$/.exec(text);
    if (!m) {
      throw new TypeError('altyn: amount must be a positive number, got ' + text);
    }
    var frac = (m[2] || '').replace(/0+$/, '');
    if (frac.length > exp) {
      throw new TypeError('altyn: amount ' + text + ' has more decimals than ' + currency + ' allows');
    }
    while (frac.length < exp) {
      frac += '0';
    }
    var minor = Number(m[1] + frac);
    if (!(minor > 0) || minor > 1e12) {
      throw new TypeError('altyn: amount ' + text + ' is out of range');
    }
    return minor;
  }

  function language(tag) {
    return /^ru([-_]|$)/i.test(String(tag || '')) ? 'ru' : 'en';
  }

  // recurrentOf finds the schedule a payment asks for: data.recurrent, or
  // CloudPayments' data.cloudPayments.recurrent.
  function recurrentOf(data) {
    if (!data || typeof data !== 'object') {
      return null;
    }
    return data.recurrent || (data.cloudPayments && data.cloudPayments.recurrent) || null;
  }

  // payment builds what the form needs from the classic options.
  function paymentOf(options, twoStage) {
    if (!options || typeof options !== 'object') {
      throw new TypeError('altyn: options are required');
    }
    var publicId = options.publicId || options.publicTerminalId;
    if (!publicId || typeof publicId !== 'string') {
      throw new TypeError('altyn: publicId is required');
    }
    var currency = String(options.currency || 'RUB').toUpperCase();
    var user = options.userInfo || {};
    var data = options.data || options.metadata;
    if (options.recurrent && !recurrentOf(data)) {
      data = Object.assign({}, data || {}, {recurrent: options.recurrent});
    }
    if (data != null && (typeof data !== 'object' || Array.isArray(data))) {
      throw new TypeError('altyn: data must be an object');
    }
    return {
      publicId: publicId,
      amount: minorUnits(options.amount, currency),
      currency: currency,
      twoStage: !!twoStage,
      description: options.description ? String(options.description) : undefined,
      invoiceId: options.invoiceId || options.externalId ? String(options.invoiceId || options.externalId) : undefined,
      accountId: options.accountId || user.accountId ? String(options.accountId || user.accountId) : undefined,
      email: options.email || user.email ? String(options.email || user.email) : undefined,
      data: data ? JSON.parse(JSON.stringify(data)) : undefined,
      recurrent: !!recurrentOf(data)
    };
  }

  function css(el, styles) {
    for (var k in styles) {
      if (Object.prototype.hasOwnProperty.call(styles, k)) {
        el.style[k] = styles[k];
      }
    }
    return el;
  }

  // timings turns the form's marks (absolute times) into milliseconds
  // since this page's navigation started.
  function timings(marks) {
    var out = {};
    for (var k in marks) {
      if (Object.prototype.hasOwnProperty.call(marks, k)) {
        out[k] = k === 'sealMs' ? marks[k] : Math.round((marks[k] - performance.timeOrigin) * 10) / 10;
      }
    }
    return out;
  }

  var openWidget = null; // one form at a time

  /**
   * Widget opens altyn's payment form over the page.
   * @param {{language?: string}} [settings] language: 'ru-RU' or 'en-US'
   *   (default: the page's lang attribute).
   */
  function Widget(settings) {
    this.language = (settings && settings.language) || document.documentElement.lang || 'en';
    this.timings = null;
  }

  /** charge takes a one-stage payment (CloudPayments' widget.charge). */
  Widget.prototype.charge = function (options, onSuccess, onFail, onComplete) {
    this._open(paymentOf(options, false), options, {success: onSuccess, fail: onFail, complete: onComplete});
  };

  /** auth holds the amount for the shop to capture later (two-stage). */
  Widget.prototype.auth = function (options, onSuccess, onFail, onComplete) {
    this._open(paymentOf(options, true), options, {success: onSuccess, fail: onFail, complete: onComplete});
  };

  /**
   * start opens the form and returns a Promise of
   * {type: 'payment', status: 'success'|'fail'|'cancel', data: {paymentId,
   * transactionId, reasonCode}, message}. options.paymentSchema 'Dual'
   * authorizes; otherwise it charges.
   */
  Widget.prototype.start = function (options) {
    var self = this;
    return new Promise(function (resolve) {
      var dual = options && /^dual$/i.test(String(options.paymentSchema || ''));
      self._open(paymentOf(options, dual), options, {
        complete: function (result) {
          resolve({
            type: 'payment',
            status: result.cancelled ? 'cancel' : result.success ? 'success' : 'fail',
            data: {paymentId: result.paymentId, transactionId: result.transactionId, reasonCode: result.reasonCode},
            message: result.message
          });
        }
      });
    });
  };

  Widget.prototype._open = function (payment, options, callbacks) {
    if (openWidget) {
      openWidget.close();
    }
    var self = this;
    var lang = language(options.language || this.language);
    var previousFocus = document.activeElement;
    var previousOverflow = document.documentElement.style.overflow;
    var result = null;
    var overlay = css(document.createElement('div'), {
      position: 'fixed', top: '0', left: '0', right: '0', bottom: '0', zIndex: '2147483647',
      display: 'flex', overflowY: 'auto', background: 'rgba(17, 24, 39, 0.55)', padding: '0'
    });
    overlay.setAttribute('data-altyn', 'overlay');
    var frame = css(document.createElement('iframe'), {
      display: 'block', margin: 'auto', border: '0', width: '100%', maxWidth: '460px', height: '500px',
      background: 'transparent', colorScheme: 'normal'
    });
    // The payment (no card data) and this page's origin go in the URL's
    // fragment, which is never sent to a server: the form is set up as it
    // loads, with no message round trip.
    frame.src = widgetBase + 'form?lang=' + lang + '#' +
      encodeURIComponent(JSON.stringify({origin: location.origin, payment: payment}));
    frame.title = lang === 'ru' ? 'Оплата картой' : 'Card payment';
    frame.setAttribute('allow', 'payment');
    frame.setAttribute('data-altyn', 'form');
    overlay.appendChild(frame);
    document.body.appendChild(overlay);
    document.documentElement.style.overflow = 'hidden';
    // Focus the frame now, so that the form's focus on the card number as
    // it loads stays there.
    frame.focus();

    function finish(r) {
      r.message = r.reason || (r.success ? 'Success' : '');
      if (r.success) {
        callbacks.success && callbacks.success(options, r);
      } else {
        callbacks.fail && callbacks.fail(r.reason || (r.cancelled ? 'User has cancelled' : 'Declined'), options, r);
      }
      callbacks.complete && callbacks.complete(r, options);
    }

    // A form that never loads (altyn unreachable) must not leave the
    // payer behind an empty overlay.
    var loadTimer = setTimeout(function () {
      result = {success: false, reason: lang === 'ru' ? 'Не удалось загрузить форму оплаты' : 'The payment form could not be loaded'};
      finish(result);
      close();
    }, 20000);

    function close() {
      clearTimeout(loadTimer);
      window.removeEventListener('message', onMessage);
      document.removeEventListener('keydown', onKey);
      if (overlay.parentNode) {
        overlay.parentNode.removeChild(overlay);
      }
      document.documentElement.style.overflow = previousOverflow;
      openWidget = null;
      if (previousFocus && previousFocus.focus) {
        previousFocus.focus();
      }
      if (!result) {
        result = {success: false, cancelled: true, reason: 'User has cancelled'};
        finish(result);
      }
    }

    function onKey(e) {
      if (e.key === 'Escape') {
        close();
      }
    }

    function onMessage(e) {
      var m = e.data;
      if (e.source !== frame.contentWindow || e.origin !== altynOrigin || !m || m.altyn !== TAG) {
        return;
      }
      switch (m.type) {
        case 'ready':
          clearTimeout(loadTimer);
          if (!m.configured) { // a form that did not read the fragment
            frame.contentWindow.postMessage({altyn: TAG, type: 'init', payment: payment}, altynOrigin);
          }
          frame.setAttribute('data-state', 'ready'); // the form has loaded
          break;
        case 'resize':
          frame.style.height = Math.ceil(Number(m.height) || 500) + 'px';
          // 3-D Secure: the bank's page gets at least 500 × 500 where the
          // screen has room for it.
          frame.style.maxWidth = m.wide ? '620px' : '460px';
          break;
        case 'timings':
          self.timings = timings(m.marks || {});
          Widget.timings = self.timings;
          if (self.timings.keyReady) {
            frame.setAttribute('data-core', 'ready'); // the form can seal
          }
          break;
        case 'result':
          if (!result) {
            var p = m.payment || {};
            result = {
              success: !!m.success, paymentId: p.id, transactionId: p.transactionId, status: p.status,
              amount: p.amount, currency: p.currency, reasonCode: p.reasonCode, reason: m.reason,
              cardMask: p.cardMask, subscriptionId: p.subscriptionId
            };
            finish(result);
          }
          break;
        case 'close':
          close();
          break;
      }
    }

    window.addEventListener('message', onMessage);
    document.addEventListener('keydown', onKey);
    openWidget = {close: close};
  };

  // The checkout script's sealing frame: one hidden altyn page per merchant
  // page, shared by every Checkout. Card data reaches it by postMessage,
  // never over the network from this page.
  var sealer = null;

  function sealerFrame() {
    if (sealer) {
      return sealer;
    }
    var pending = {};
    var nextId = 1;
    var frame = document.createElement('iframe');
    css(frame, {display: 'none'});
    frame.setAttribute('aria-hidden', 'true');
    frame.tabIndex = -1;
    frame.title = 'altyn checkout';
    frame.src = widgetBase + 'seal';
    var ready = new Promise(function (resolve) {
      window.addEventListener('message', function (e) {
        var m = e.data;
        if (e.source !== frame.contentWindow || e.origin !== altynOrigin || !m || m.altyn !== TAG) {
          return;
        }
        if (m.type === 'ready') {
          resolve();
        } else if (m.type === 'cryptogram' && pending[m.id]) {
          var job = pending[m.id];
          delete pending[m.id];
          job(m);
        }
      });
    });
    (document.body || document.documentElement).appendChild(frame);
    sealer = {
      seal: function (message) {
        var timeout = new Promise(function (resolve) {
          setTimeout(function () {
            resolve({error: {code: 'unavailable', message: 'altyn: the checkout frame did not answer'}});
          }, 30000);
        });
        var answer = ready.then(function () {
          return new Promise(function (resolve) {
            message.id = nextId++;
            message.altyn = TAG;
            message.type = 'cryptogram';
            pending[message.id] = resolve;
            frame.contentWindow.postMessage(message, altynOrigin);
          });
        });
        return Promise.race([answer, timeout]);
      }
    };
    return sealer;
  }

  /**
   * Checkout seals card data from the merchant's own form into a
   * cryptogram for the merchant's backend to pay with (CloudPayments'
   * checkout script). The merchant's inputs must have no name attribute.
   */
  function Checkout(settings) {
    if (!settings || !settings.publicId) {
      throw new TypeError('altyn.Checkout: publicId is required');
    }
    this.publicId = String(settings.publicId);
    this.timings = null;
    // Start loading the sealing frame now, so the first cryptogram is quick.
    if (document.body) {
      sealerFrame();
    } else {
      document.addEventListener('DOMContentLoaded', sealerFrame);
    }
  }

  /**
   * createPaymentCryptogram({cardNumber, expDateMonth, expDateYear, cvv,
   * name}) resolves to the cryptogram, or rejects with a map of field to
   * code ({CardNumber: 'CardNumber_Invalid', …}); a service failure rejects
   * with an Error.
   */
  Checkout.prototype.createPaymentCryptogram = function (cardData) {
    var self = this;
    var started = performance.now();
    var card = {
      cardNumber: String((cardData && cardData.cardNumber) || ''),
      expDateMonth: String((cardData && cardData.expDateMonth) || ''),
      expDateYear: String((cardData && cardData.expDateYear) || ''),
      cvv: String((cardData && cardData.cvv) || ''),
      name: String((cardData && cardData.name) || '')
    };
    return sealerFrame().seal({publicId: this.publicId, cardData: card}).then(function (m) {
      self.timings = {totalMs: Math.round((performance.now() - started) * 10) / 10, sealMs: m.sealMs};
      if (m.cryptogram) {
        return m.cryptogram;
      }
      if (m.fields) {
        throw m.fields;
      }
      var err = new Error((m.error && m.error.message) || 'altyn: the cryptogram could not be made');
      err.code = m.error && m.error.code;
      throw err;
    });
  };

  global.altyn = {Widget: Widget, Checkout: Checkout, version: '1'};
})(window);
