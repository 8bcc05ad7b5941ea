/*
 * altyn demo shop: the scenarios of CloudPayments' integration guide
 * (seed 000) with altyn's widget. Each button is what a merchant would
 * write on its own page.
 */
(function () {
  'use strict';
  var publicId = document.body.getAttribute('data-public-id');
  var log = document.getElementById('log');

  function $(id) {
    return document.getElementById(id);
  }

  function say(text) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + ' ' + text;
    log.insertBefore(li, log.firstChild);
  }

  function widget() {
    return new altyn.Widget({language: $('lang').value});
  }

  function onSuccess(options, result) {
    var text = 'onSuccess: ' + options.description + ': ' + result.status + ', transaction ' + result.transactionId;
    if (options.data && (options.data.recurrent || (options.data.cloudPayments && options.data.cloudPayments.recurrent))) {
      text += result.subscriptionId ? ', subscription ' + result.subscriptionId + ' started' : ' (no subscription was made)';
    }
    say(text);
  }

  function onFail(reason, options) {
    say('onFail: ' + options.description + ': ' + reason);
  }

  // The monthly schedule CloudPayments' example builds: from next month,
  // one day early.
  function monthlyFromNextMonth() {
    var date = new Date();
    date.setMonth(date.getMonth() + 1);
    date.setDate(date.getDate() - 1);
    return {interval: 'Month', period: 1, startDate: date};
  }

  $('simple').addEventListener('click', function () {
    widget().charge({
      publicId: publicId, description: 'Order #1001: a book', amount: 1500, currency: 'RUB',
      invoiceId: '1001', accountId: 'user@example.com', email: 'user@example.com'
    }, onSuccess, onFail);
  });

  $('twostage').addEventListener('click', function () {
    widget().auth({
      publicId: publicId, description: 'Hotel booking #77', amount: 5000, currency: 'RUB',
      invoiceId: 'booking-77', accountId: 'guest@example.com'
    }, onSuccess, onFail);
  });

  $('isp').addEventListener('click', function () {
    var accountId = $('isp-account').value;
    var data = {};
    if ($('isp-auto').checked) {
      data.cloudPayments = {recurrent: monthlyFromNextMonth()};
    }
    widget().charge({
      publicId: publicId, description: 'Top-up of subscriber ' + accountId, amount: $('isp-amount').value,
      currency: 'RUB', accountId: accountId, data: data
    }, onSuccess, onFail);
  });

  $('charity').addEventListener('click', function () {
    var data = {name: $('ch-name').value, lastName: $('ch-last').value, phone: $('ch-phone').value};
    if ($('ch-monthly').checked) {
      data.cloudPayments = {recurrent: {interval: 'Month', period: 1}};
    }
    widget().charge({
      publicId: publicId, description: 'Donation to the foundation', amount: $('ch-amount').value, currency: 'RUB',
      accountId: $('ch-email').value, email: $('ch-email').value, data: data
    }, onSuccess, onFail);
  });

  $('instalments').addEventListener('click', function () {
    var amount = 12000;
    var data = {};
    if ($('plan-later').checked) {
      data.cloudPayments = {recurrent: {interval: 'Month', period: 1, amount: 1000, maxPeriods: 6}};
      amount = 6000;
    }
    widget().charge({
      publicId: publicId, description: 'Course, ' + (amount === 6000 ? 'first instalment' : 'paid in full'),
      amount: amount, currency: 'RUB', accountId: 'user@example.com', data: data
    }, onSuccess, onFail);
  });

  var checkout = new altyn.Checkout({publicId: publicId});
  $('checkout').addEventListener('click', function () {
    var exp = $('co-exp').value.split('/');
    checkout.createPaymentCryptogram({
      cardNumber: $('co-number').value, expDateMonth: (exp[0] || '').trim(), expDateYear: (exp[1] || '').trim(), cvv: $('co-cvv').value
    }).then(function (cryptogram) {
      say('cryptogram for the backend: ' + cryptogram.slice(0, 32) + '… (' + cryptogram.length + ' characters)');
    }, function (errors) {
      say('createPaymentCryptogram rejected: ' + JSON.stringify(errors instanceof Error ? errors.message : errors));
    });
  });
})();
