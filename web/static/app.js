// baohan consoles: the little script that talks to the bidder's CA agent
// (baohan ca-agent on 127.0.0.1) and to the console's JSON endpoints.
(function () {
  'use strict';
  var body = document.body;
  var base = body.dataset.base || '';
  var agent = body.dataset.agent || 'http://127.0.0.1:17650';
  var csrf = body.dataset.csrf || '';

  function request(url, method, data, headers) {
    var opts = { method: method || 'GET', headers: Object.assign({ 'Accept': 'application/json' }, headers || {}), credentials: 'same-origin' };
    if (data !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(data);
    }
    return fetch(url, opts).then(function (resp) {
      return resp.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : {}; } catch (e) { /* not JSON */ }
        if (!resp.ok || json === null) {
          var msg = (json && (json.error || json.message)) || ('HTTP ' + resp.status);
          throw new Error(msg);
        }
        return json;
      });
    }, function () {
      throw new Error('无法连接 ' + url);
    });
  }

  // The CA agent: errors that mean "not running" get a helpful message.
  var ca = {
    call: function (path, data) {
      return request(agent + path, data === undefined ? 'GET' : 'POST', data).catch(function (err) {
        if (/无法连接/.test(err.message)) {
          throw new Error('未找到CA证书助手：请在本机运行 baohan ca-agent（' + agent + '）');
        }
        throw err;
      });
    },
    cert: function () { return ca.call('/v1/cert'); },
    // Every use of the key waits for the bidder to allow it at the agent.
    challenge: function (c, purpose, applyno) { return ca.call('/v1/challenge', { challenge: c, purpose: purpose, applyno: applyno || undefined }); },
    envelope: function (env, layout, applyno) { return ca.call('/v1/envelope', { digitalenvelope: env, layout: layout || undefined, applyno: applyno || undefined }); },
    agreement: function (ofd, applyno) { return ca.call('/v1/agreement', { ofd: ofd, applyno: applyno || undefined }); }
  };
  // Console JSON endpoints carry the session's CSRF token.
  function post(url, data) { return request(url, 'POST', data || {}, { 'X-CSRF-Token': csrf }); }
  window.baohan = { ca: ca, request: request, post: post };

  function $(sel, root) { return (root || document).querySelector(sel); }
  function setStatus(el, cls, text) {
    if (!el) return;
    el.className = 'agent-status ' + (cls || '');
    el.textContent = text;
  }

  // Forms that ask before they act.
  document.addEventListener('submit', function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  // Bidder login with the CA certificate: the platform hands out a
  // challenge, the agent signs it for platform-login and this origin once
  // the bidder allows it, the platform checks the signature against the
  // bidder's registered certificate.
  var login = document.getElementById('ca-login');
  if (login) {
    var status = $('[data-agent-status]', login), btn = $('#ca-login-btn'), errEl = $('#ca-login-error');
    ca.cert().then(function (c) {
      setStatus(status, 'ok', '已识别证书：' + c.subject + (c.creditcode ? '（' + c.creditcode + '）' : ''));
      btn.disabled = false;
    }, function (err) { setStatus(status, 'bad', err.message); });
    btn.addEventListener('click', function () {
      btn.disabled = true;
      errEl.textContent = '';
      request(base + '/login/challenge', 'POST', {}).then(function (ch) {
        setStatus(status, '', '请在CA证书助手中确认登录签名…');
        return ca.challenge(ch.challenge, ch.purpose).then(function (sig) {
          return request(base + '/login/ca', 'POST', { challenge: ch.challenge, signature: sig.signature, cert: sig.cert });
        });
      }).then(function (res) {
        window.location.assign(res.next || (base + '/'));
      }, function (err) {
        errEl.textContent = err.message;
        btn.disabled = false;
      });
    });
  }

  // The bidder's steps at the institution (the page behind redirecturl).
  var flow = document.getElementById('bidder-flow');
  if (flow) {
    var api = flow.dataset.api;
    var out = $('#flow-error');
    var busy = function (b, on) { b.disabled = on; b.dataset.label = b.dataset.label || b.textContent; b.textContent = on ? '处理中…' : b.dataset.label; };
    var fail = function (b) { return function (err) { out.textContent = err.message; busy(b, false); }; };
    var reload = function () { window.location.reload(); };
    var agentStatus = $('[data-agent-status]', flow);
    if (agentStatus) {
      ca.cert().then(function (c) { setStatus(agentStatus, 'ok', '已识别证书：' + c.subject); },
        function (err) { setStatus(agentStatus, 'bad', err.message); });
    }
    var open = $('#open-btn');
    if (open) open.addEventListener('click', function () {
      busy(open, true); out.textContent = '';
      var product = $('#product');
      request(api, 'GET').then(function (st) {
        if (!st.digitalenvelope) return { key: '' }; // flat revision: no envelope to open
        setStatus(agentStatus, '', '请在CA证书助手中确认打开数字信封…');
        return ca.envelope(st.digitalenvelope, st.sm2_layout, st.applyno);
      }).then(function (res) {
        return request(api + '/open', 'POST', { key: res.key, product: product ? product.value : '' });
      }).then(reload, fail(open));
    });
    var sign = $('#sign-btn');
    if (sign) sign.addEventListener('click', function () {
      busy(sign, true); out.textContent = '';
      fetch(api + '/agreement', { credentials: 'same-origin' }).then(function (resp) {
        if (!resp.ok) return resp.text().then(function (t) { throw new Error('下载协议失败：' + t); });
        return resp.arrayBuffer();
      }).then(function (buf) {
        var bytes = new Uint8Array(buf), bin = '';
        for (var i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        setStatus(agentStatus, '', '请在CA证书助手中确认签署协议…');
        return ca.agreement(btoa(bin), flow.dataset.applyno);
      }).then(function (res) {
        var bin = atob(res.ofd), bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return fetch(api + '/agreement', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/ofd' }, body: bytes });
      }).then(function (resp) {
        return resp.text().then(function (t) {
          var j = null; try { j = JSON.parse(t); } catch (e) { /* */ }
          if (!resp.ok || (j && j.error)) throw new Error((j && (j.error || j.message)) || ('HTTP ' + resp.status));
        });
      }).then(reload, fail(sign));
    });
    var pay = $('#pay-btn');
    if (pay) pay.addEventListener('click', function () {
      busy(pay, true); out.textContent = '';
      var name = $('#payername'), account = $('#payeraccount');
      request(api + '/pay', 'POST', { payername: name ? name.value : '', payeraccount: account ? account.value : '' }).then(reload, fail(pay));
    });
    // While the institution underwrites, look again now and then.
    var state = $('#bidder-state');
    if (state && ['paid', 'reviewing', 'approved'].indexOf(state.dataset.state) >= 0) {
      setTimeout(reload, 5000);
    }
  }
})();

// After applying on the platform: wait for the institution's redirecturl
// (baohanapply goes out through the outbox), then go there.
(function () {
  'use strict';
  var el = document.getElementById('app-status');
  if (!el || !el.dataset.go) return;
  var tries = 0;
  (function poll() {
    window.baohan.request(el.dataset.status, 'GET').then(function (st) {
      if (st.redirecturl) {
        window.location.assign(st.redirecturl);
      } else if (st.state !== 'applied' || ++tries > 60) {
        window.location.assign(window.location.pathname);
      } else {
        setTimeout(poll, 1000);
      }
    }, function () { setTimeout(poll, 2000); });
  })();
})();
