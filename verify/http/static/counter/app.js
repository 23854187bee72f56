// The airport counter page: sign in with the terminal's key, scan the card's QR code
// (a keyboard-wedge scanner types the text and Enter), show a big answer in Vietnamese.
// No dependencies, no build step; served by the app under a strict CSP (no inline script).
"use strict";

(function () {
  const STORE_KEY = "counter.key";
  const STORE_TERMINAL = "counter.terminal";
  const PURPOSE = "airport_checkin";
  const REQUEST_TIMEOUT_MS = 8000;
  const MAX_TERMINAL = 64;
  const CLEAR_AFTER_MS = 60000; // the last traveller's answer leaves the screen after a minute

  const VERDICTS = {
    match: "HỢP LỆ",
    no_match: "KHÔNG KHỚP",
    not_found: "KHÔNG TÌM THẤY",
    error: "CHƯA KIỂM TRA ĐƯỢC",
    pending: "ĐANG KIỂM TRA…",
  };

  // reason code -> words; a field whose result is "partial" says so instead
  const REASONS = {
    full_name: "Họ tên không khớp",
    date_of_birth: "Ngày sinh không khớp",
    gender: "Giới tính không khớp",
    booking_name: "Tên đặt chỗ không khớp",
    card_expired: "Thẻ đã hết hạn",
    card_revoked: "Thẻ đã bị thu hồi hoặc báo mất",
    card_superseded: "Thẻ cũ, đã được thay bằng thẻ mới hơn",
    card_unknown: "Thẻ này không có trong cơ sở dữ liệu",
    card_not_provided: "Chưa xuất trình thẻ",
    deceased: "Cơ sở dữ liệu ghi nhận người này đã mất",
  };
  const PARTIAL = {
    full_name: "Họ tên chỉ gần khớp (sai dấu, thứ tự hoặc tên đệm)",
    date_of_birth: "Ngày sinh chỉ gần khớp (ngày và tháng bị đảo)",
    gender: "Giới tính chỉ khớp một phần",
    booking_name: "Tên đặt chỗ chỉ gần khớp",
  };

  const $ = (id) => document.getElementById(id);
  const signin = $("signin");
  const counter = $("counter");
  const signinForm = $("signin-form");
  const signinMessage = $("signin-message");
  const keyInput = signinForm.elements.namedItem("key");
  const terminalInput = signinForm.elements.namedItem("terminal");
  const scanForm = $("scan-form");
  const scanBox = $("scan");
  const booking = $("booking");
  const panel = $("answer");
  const verdictEl = $("answer-verdict");
  const personEl = $("answer-person");
  const reasonsEl = $("answer-reasons");
  const adviceEl = $("answer-advice");
  const timeEl = $("answer-time");

  let seq = 0; // the latest check; an older answer arriving late is dropped
  let scans = 0; // checks made since the page was loaded: the panel's data-seq
  let countdown = null;
  let clearTimer = null;

  function session() {
    const key = sessionStorage.getItem(STORE_KEY);
    const terminal = sessionStorage.getItem(STORE_TERMINAL);
    return key && terminal ? { key, terminal } : null;
  }

  function showSignin(message) {
    sessionStorage.removeItem(STORE_KEY);
    sessionStorage.removeItem(STORE_TERMINAL);
    seq += 1; // answers still in flight belong to the old session
    stopCountdown();
    clearTimeout(clearTimer);
    counter.hidden = true;
    signin.hidden = false;
    signinMessage.textContent = message || "";
    keyInput.value = "";
    terminalInput.value = "";
    booking.value = "";
    scanBox.value = "";
    keyInput.focus();
  }

  function ready() {
    render("idle", { verdict: "SẴN SÀNG", advice: "Quét mã QR trên thẻ của hành khách." });
  }

  function showCounter(terminal) {
    signin.hidden = true;
    counter.hidden = false;
    $("terminal-name").textContent = terminal;
    ready();
    scanBox.focus();
  }

  function hasControl(text) {
    for (const ch of text) {
      const c = ch.codePointAt(0);
      if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return true;
    }
    return false;
  }

  signinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    const terminal = terminalInput.value.trim();
    if (!key || !terminal) {
      signinMessage.textContent = "Nhập khóa API và tên quầy.";
      return;
    }
    if (terminal.length > MAX_TERMINAL || hasControl(terminal)) {
      signinMessage.textContent = "Tên quầy tối đa 64 ký tự, không có ký tự điều khiển.";
      return;
    }
    sessionStorage.setItem(STORE_KEY, key);
    sessionStorage.setItem(STORE_TERMINAL, terminal);
    keyInput.value = "";
    showCounter(terminal);
  });

  $("signout").addEventListener("click", (event) => {
    event.preventDefault();
    showSignin("Đã đăng xuất.");
  });

  // --- focus: the scan box has it at all times, but for the booking name being typed ---

  function refocus() {
    if (!counter.hidden && document.activeElement !== booking) scanBox.focus();
  }

  scanBox.addEventListener("blur", (event) => {
    if (event.relatedTarget === booking || event.relatedTarget === $("signout")) return;
    setTimeout(refocus, 0);
  });
  booking.addEventListener("blur", () => setTimeout(refocus, 0));
  booking.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    // a card scanned while the booking box had the focus: the QR is the tail that starts
    // with a 12-digit number and a "|", whatever the agent typed before it is the booking
    const scanned = booking.value.match(/^(.*?)(\d{12}\|.*)$/);
    scanBox.focus();
    if (scanned) {
      booking.value = scanned[1].trim();
      check(scanned[2].trim());
    }
  });
  document.addEventListener("click", (event) => {
    if (event.target !== booking && event.target !== $("signout")) refocus();
  });
  window.addEventListener("focus", refocus);
  document.addEventListener("visibilitychange", refocus);
  scanForm.addEventListener("submit", (event) => event.preventDefault());

  // --- the answer panel ---

  function stopCountdown() {
    if (countdown !== null) clearInterval(countdown);
    countdown = null;
  }

  function render(state, parts) {
    stopCountdown();
    clearTimeout(clearTimer);
    if (state !== "idle" && state !== "pending") clearTimer = setTimeout(ready, CLEAR_AFTER_MS);
    panel.dataset.verdict = state;
    verdictEl.textContent = parts.verdict || VERDICTS[state] || "";
    personEl.textContent = parts.person || "";
    reasonsEl.replaceChildren(
      ...(parts.reasons || []).map((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        return li;
      }),
    );
    adviceEl.textContent = parts.advice || "";
    timeEl.textContent = parts.ms === undefined ? "" : `Thời gian: ${Math.round(parts.ms)} ms`;
    // Enter to the answer in hand (before it is drawn), for the latency breakdown
    panel.dataset.answerMs = parts.ms === undefined ? "" : parts.ms.toFixed(2);
  }

  // After the panel is written: the next animation frame is when it is painted. data-ms
  // (Enter to that frame) and data-seq (which scan) are the hooks the browser test reads.
  function painted(n, number, started) {
    requestAnimationFrame(() => {
      if (n !== seq) return;
      panel.dataset.ms = (performance.now() - started).toFixed(2);
      panel.dataset.seq = String(number);
    });
  }

  function busy(seconds, text) {
    let left = seconds;
    const say = () => `${text}, thử lại sau ${left} giây.`;
    adviceEl.textContent = say();
    countdown = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        stopCountdown();
        adviceEl.textContent = "Có thể quét lại.";
      } else {
        adviceEl.textContent = say();
      }
    }, 1000);
  }

  // The name the card itself shows (third QR field): nothing from the register.
  function nameOnCard(qr) {
    const parts = qr.split("|");
    return parts.length > 2 ? parts[2].trim().slice(0, 100) : "";
  }

  function reasonWords(body) {
    const fields = body.fields || {};
    return (body.reasons || []).map((code) => {
      const field = fields[code];
      if (field && field.result === "partial" && PARTIAL[code]) return PARTIAL[code];
      return REASONS[code] || `Lý do khác: ${code}`;
    });
  }

  function showVerdict(body, sent, ms) {
    const verdict = ["match", "no_match", "not_found"].includes(body.verdict)
      ? body.verdict
      : "no_match"; // an answer this page does not know is never shown as green
    const advice = {
      match: "Hành khách khớp với thẻ căn cước.",
      no_match: "Không làm thủ tục. Kiểm tra giấy tờ hoặc báo giám sát.",
      not_found: "Không có số định danh này trong cơ sở dữ liệu dân cư. Báo giám sát.",
    }[verdict];
    const person = nameOnCard(sent.qr);
    const withBooking = sent.booking_name ? `${person} · Đặt chỗ: ${sent.booking_name}` : person;
    render(verdict, { person: withBooking, reasons: reasonWords(body), advice, ms });
  }

  function retryAfter(response) {
    const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 3600) : 5;
  }

  const BAD_REQUEST = {
    invalid_qr: "Không đọc được mã QR. Quét lại.",
    invalid_id_number: "Số định danh trong mã QR không hợp lệ. Quét lại.",
    nothing_to_verify: "Mã QR không có thông tin để kiểm tra. Quét lại hoặc kiểm tra thủ công.",
    invalid_json: "Máy quét gửi dữ liệu hỏng. Quét lại.",
  };

  function badRequestAdvice(problem) {
    if (problem.field === "booking_name") return "Tên đặt chỗ không hợp lệ. Sửa lại rồi quét lại.";
    if (problem.field === "terminal") return "Tên quầy không hợp lệ. Đăng xuất và đăng nhập lại.";
    return BAD_REQUEST[problem.code] || "Yêu cầu không hợp lệ. Quét lại.";
  }

  async function showProblem(response, ms) {
    let problem = {};
    try {
      problem = await response.json();
    } catch (_) {
      problem = {};
    }
    const status = response.status;
    if (status === 401) {
      showSignin("Khóa API không hợp lệ, đã hết hạn hoặc đã bị thu hồi. Đăng nhập lại.");
      return false;
    }
    if (status === 403) {
      showSignin("Khóa này không được dùng cho quầy làm thủ tục (cần quyền verify, mục đích airport_checkin).");
      return false;
    }
    render("error", { ms });
    if (status === 429 && problem.code === "too_many_attempts") {
      busy(retryAfter(response), "Người này đã được kiểm tra quá nhiều lần");
    } else if (status === 429 || status === 503) {
      busy(retryAfter(response), "Hệ thống bận");
    } else if (status >= 400 && status < 500) {
      adviceEl.textContent = badRequestAdvice(problem);
    } else {
      adviceEl.textContent = "Lỗi máy chủ. Quét lại; nếu vẫn lỗi, báo bộ phận kỹ thuật.";
    }
    return true;
  }

  function requestBody(qr, terminal) {
    const body = { qr, require_card: true, terminal, purpose: PURPOSE };
    const name = booking.value.trim();
    if (name) body.booking_name = name;
    return body;
  }

  async function check(qr) {
    const who = session();
    if (!who) {
      showSignin("");
      return;
    }
    const started = performance.now();
    seq += 1;
    scans += 1;
    const n = seq;
    const number = scans;
    render("pending", { advice: "" });
    const sent = requestBody(qr, who.terminal);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    let answered = false;
    try {
      const response = await fetch("/v1/verify", {
        method: "POST",
        headers: { Authorization: `Bearer ${who.key}`, "Content-Type": "application/json" },
        body: JSON.stringify(sent),
        signal: abort.signal,
        cache: "no-store",
        credentials: "omit",
      });
      if (n !== seq) return;
      if (response.ok) {
        const body = await response.json();
        if (n !== seq) return;
        showVerdict(body, sent, performance.now() - started);
        answered = true;
      } else if (!(await showProblem(response, performance.now() - started))) {
        return; // back at the sign-in form
      }
    } catch (error) {
      if (n !== seq) return;
      render("error", {
        ms: performance.now() - started,
        advice: error && error.name === "AbortError"
          ? "Máy chủ không trả lời kịp. Quét lại."
          : "Mất kết nối tới máy chủ. Kiểm tra mạng rồi quét lại.",
      });
    } finally {
      clearTimeout(timer);
    }
    if (n !== seq) return;
    if (answered) booking.value = ""; // the booking belonged to this traveller
    painted(n, number, started);
    scanBox.focus();
  }

  scanBox.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const qr = scanBox.value.trim();
    scanBox.value = "";
    if (qr) check(qr);
  });

  const who = session();
  if (who) showCounter(who.terminal);
  else showSignin("");
})();
