/*
 * altyn 3-D Secure return page: the bank's ACS posted its answer here inside
 * the payment form's frame, and altyn completed the payment. Tell the form
 * (same origin), which reads the outcome from the API.
 */
(function () {
  'use strict';
  var el = document.getElementById('result');
  if (window.parent !== window) {
    window.parent.postMessage({altyn: 'altyn-widget', type: '3ds-done', status: el.getAttribute('data-status')}, location.origin);
  }
})();
