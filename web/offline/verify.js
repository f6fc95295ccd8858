// Sijill offline verification: checks a permit's sealed QR payload (COSE_Sign1, Ed25519) with the keys and the
// signed revocation list embedded in this file. No network: the page's Content-Security-Policy forbids every
// connection, and nothing here tries one. Formats: signing/sealed_payload.py and signing/revocations.py.
"use strict";
(function () {
  const PREFIX = "SJ1:";
  const MAX_TEXT = 2048;
  const ALG_EDDSA = -8;
  const COSE_SIGN1_TAG = 18;
  const CLAIM_PERMIT = -70001;
  const CLAIM_REVOCATIONS = -70002;
  const REVOCATIONS_TYPE = "application/sijill-revocations+cbor";
  const MAX_LIST_BYTES = 8 * 1024 * 1024;
  const MAX_BOUND_REVISIONS = 8;

  const T = {
    ar: {
      title: "التحقق من ترخيص دون اتصال",
      intro: "الصق نص رمز QR المطبوع على الترخيص (الرابط كاملا أو الجزء الذي يبدأ بـ SJ1:)، ثم اضغط «تحقق». " +
        "لا تتصل هذه الصفحة بأي خادم: مفاتيح المركز وقائمة التراخيص الملغاة محفوظة فيها.",
      label_text: "نص رمز QR",
      check: "تحقق",
      photo: "أو اختر صورة لرمز QR",
      switch_lang: "English",
      keys: (n) => n === 1 ? "مفتاح ختم واحد للمركز محفوظ في الصفحة." : `${n} مفاتيح ختم للمركز محفوظة في الصفحة.`,
      made: (d) => `أعدت هذه الصفحة في ${d}.`,
      list_ok: (d, n) => `قائمة التراخيص الملغاة بتاريخ ${d} (حتى التحديث التالي ${n}).`,
      list_outdated: (d, n) => `قائمة التراخيص الملغاة بتاريخ ${d} قديمة: كان موعد تحديثها ${n}. ` +
        "الإلغاءات المذكورة فيها صحيحة، لكن غياب ترخيص عنها لم يعد يثبت شيئا؛ نزّل قائمة أحدث.",
      list_none: "لا تحمل هذه الصفحة قائمة بالتراخيص الملغاة؛ لا يمكن معرفة الإلغاء دون اتصال.",
      list_bad: "قائمة التراخيص الملغاة في الصفحة غير صحيحة (الختم لا يطابق)؛ لا يمكن معرفة الإلغاء دون اتصال.",
      load_list: "تحميل قائمة إلغاء أحدث (ملف sijill-revocations)",
      list_loaded: "حُمّلت القائمة الأحدث.",
      list_refused: "رُفض الملف: ليس قائمة إلغاء صحيحة من المركز، أو أقدم من القائمة الحالية.",
      v_valid: "ختم صحيح من المركز: البيانات أدناه كما ختمها المركز.",
      v_revoked: (d, l) => `ألغي هذا الترخيص في ${d} (بحسب قائمة الإلغاء بتاريخ ${l}).`,
      v_expired: (d) => `ختم صحيح، لكن مدة الترخيص انتهت في ${d}.`,
      v_forged: "الختم لا يطابق البيانات: البيانات معدلة أو مزورة.",
      v_unknown_key: "الختم من مفتاح ليس من مفاتيح المركز المحفوظة في هذه الصفحة.",
      v_malformed: "الرمز تالف أو ليس رمز تحقق من سجل.",
      v_no_payload: "لا يحمل هذا النص بيانات مختومة للتحقق دون اتصال (يبدأ الجزء المختوم بـ SJ1:).",
      v_busy: "جار التحقق…",
      v_unsupported: "هذا المتصفح لا يدعم التحقق من توقيعات Ed25519؛ استعمل إصدارا حديثا من Chrome أو Edge أو Firefox.",
      not_revoked: (d) => `لم يكن الترخيص ملغى حتى ${d} بحسب القائمة المحفوظة.`,
      compare_facts: "قارن هذه البيانات بما هو مطبوع على الورقة: أي اختلاف يعني أن الورقة معدلة.",
      f_number: "رقم الترخيص",
      f_holder: "صاحب الترخيص",
      f_service: "الخدمة",
      f_issued: "تاريخ الإصدار",
      f_expires: "تاريخ الانتهاء",
      f_none: "غير محدد",
      f_kid: "مفتاح الختم",
      pdf_label: "اختر ملف الترخيص (PDF) لمقارنته بالبصمة المختومة",
      pdf_match: "الملف هو النسخة الصادرة المختومة (بصمة SHA-256 مطابقة).",
      pdf_mismatch: "الملف ليس الترخيص المختوم: بصمته مختلفة.",
      pdf_first_revision: "يبدأ الملف بالترخيص كما أعده المركز وختمه (نسخته الأولى، بصمة SHA-256 مطابقة). ما أضيف " +
        "بعدها (رمز QR والتوقيعات والأختام الزمنية) لا تتحقق منه هذه الصفحة: افحصه في لوحة التوقيعات في قارئ PDF " +
        "أو في صفحة التحقق عبر الإنترنت.",
      pdf_none: "لا يختم هذا الرمز بصمة ملف؛ يثبت البيانات ولا يثبت ملفا بعينه.",
      no_photo_code: "لم يُعثر على رمز QR في الصورة.",
    },
    en: {
      title: "Check a permit offline",
      intro: "Paste the text of the QR code printed on the permit (the whole link, or the part starting with " +
        "SJ1:), then press \u201cCheck\u201d. This page contacts no server: the centre's keys and the list of " +
        "revoked permits are inside it.",
      label_text: "QR code text",
      check: "Check",
      photo: "or pick a photo of the QR code",
      switch_lang: "العربية",
      keys: (n) => n === 1 ? "One sealing key of the centre is embedded in this page." :
        `${n} sealing keys of the centre are embedded in this page.`,
      made: (d) => `This page was made on ${d}.`,
      list_ok: (d, n) => `List of revoked permits dated ${d} (next update by ${n}).`,
      list_outdated: (d, n) => `The list of revoked permits dated ${d} is outdated: its next update was due ${n}. ` +
        "The revocations in it stand, but a permit missing from it is no longer known to be unrevoked; " +
        "download a newer list.",
      list_none: "This page carries no list of revoked permits; revocation cannot be checked offline.",
      list_bad: "The revocation list in this page is not genuine (its seal does not match); revocation cannot be " +
        "checked offline.",
      load_list: "Load a newer revocation list (a sijill-revocations file)",
      list_loaded: "The newer list is loaded.",
      list_refused: "The file was refused: it is not a genuine revocation list of the centre, or not newer than " +
        "the current one.",
      v_valid: "Genuine seal of the centre: the facts below are as the centre sealed them.",
      v_revoked: (d, l) => `This permit was revoked on ${d} (per the revocation list dated ${l}).`,
      v_expired: (d) => `Genuine seal, but the permit's term ended on ${d}.`,
      v_forged: "The seal does not match the facts: they were altered or forged.",
      v_unknown_key: "The seal was made with a key that is not one of the centre's keys embedded in this page.",
      v_malformed: "The code is damaged or not a Sijill verification code.",
      v_no_payload: "This text carries no sealed payload for offline checking (the sealed part starts with SJ1:).",
      v_busy: "Checking…",
      v_unsupported: "This browser cannot check Ed25519 signatures; use a recent Chrome, Edge or Firefox.",
      not_revoked: (d) => `The permit was not revoked as of ${d}, per the embedded list.`,
      compare_facts: "Compare these facts with what is printed on the paper: any difference means the paper was " +
        "altered.",
      f_number: "Permit number",
      f_holder: "Holder",
      f_service: "Service",
      f_issued: "Issued",
      f_expires: "Expires",
      f_none: "none",
      f_kid: "Sealing key",
      pdf_label: "Pick the permit's file (PDF) to compare it with the sealed fingerprint",
      pdf_match: "The file is the sealed issued copy (its SHA-256 fingerprint matches).",
      pdf_mismatch: "The file is not the sealed permit: its fingerprint differs.",
      pdf_first_revision: "The file starts with the permit exactly as the centre rendered and sealed it (its first " +
        "revision; the SHA-256 fingerprint matches). What was added after it (the QR, the signatures, the " +
        "timestamps) is not checked by this page: see a PDF reader's signature panel or the online page.",
      pdf_none: "This code seals no file fingerprint: it proves the facts, not any particular file.",
      no_photo_code: "No QR code was found in the photo.",
    },
  };

  class Refused extends Error {
    constructor(reason) {
      super(reason);
      this.reason = reason;
    }
  }

  // --- CBOR (RFC 8949): the few types Sijill's envelopes use, definite lengths only, bounded depth -------------

  function decodeCbor(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = 0;
    let depth = 0;
    const bad = () => new Refused("malformed");
    const need = (n) => {
      if (n > bytes.length - pos) throw bad();
    };
    const argument = (info) => {
      if (info < 24) return info;
      if (info === 24) { need(1); return bytes[pos++]; }
      if (info === 25) { need(2); const v = view.getUint16(pos); pos += 2; return v; }
      if (info === 26) { need(4); const v = view.getUint32(pos); pos += 4; return v; }
      if (info === 27) {
        need(8);
        const high = view.getUint32(pos);
        const low = view.getUint32(pos + 4);
        pos += 8;
        if (high >= 0x200000) throw bad(); // beyond 2^53: no Sijill value is that large
        return high * 4294967296 + low;
      }
      throw bad(); // indefinite lengths and reserved values: not written by Sijill
    };
    const item = () => {
      if (++depth > 16) throw bad();
      need(1);
      const initial = bytes[pos++];
      const major = initial >> 5;
      const info = initial & 31;
      let value;
      if (major === 0) value = argument(info);
      else if (major === 1) value = -1 - argument(info);
      else if (major === 2 || major === 3) {
        const n = argument(info);
        need(n);
        const part = bytes.subarray(pos, pos + n);
        pos += n;
        value = major === 2 ? part : new TextDecoder("utf-8", { fatal: true }).decode(part);
      } else if (major === 4) {
        const n = argument(info);
        need(n); // every item takes at least one byte
        value = [];
        for (let i = 0; i < n; i++) value.push(item());
      } else if (major === 5) {
        const n = argument(info);
        need(2 * n);
        value = new Map();
        for (let i = 0; i < n; i++) {
          const key = item();
          value.set(key, item());
        }
      } else if (major === 6) {
        const tag = argument(info);
        value = { tag, value: item() };
      } else if (info === 20 || info === 21 || info === 22) {
        value = info === 20 ? false : info === 21 ? true : null;
      } else {
        throw bad();
      }
      depth--;
      return value;
    };
    let result;
    try {
      result = item();
    } catch (error) {
      if (error instanceof Refused) throw error;
      throw bad(); // invalid UTF-8 and the like
    }
    if (pos !== bytes.length) throw bad();
    return result;
  }

  function cborHead(major, n) {
    if (n < 24) return [(major << 5) | n];
    if (n < 256) return [(major << 5) | 24, n];
    if (n < 65536) return [(major << 5) | 25, n >> 8, n & 255];
    return [(major << 5) | 26, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function cborBytes(data) {
    return concat([Uint8Array.from(cborHead(2, data.length)), data]);
  }

  // RFC 9052 §4.4: ["Signature1", protected, external_aad = h'', payload]
  function sigStructure(protectedBytes, payload) {
    const context = new TextEncoder().encode("Signature1");
    return concat([Uint8Array.of(0x84), Uint8Array.from(cborHead(3, context.length)), context,
      cborBytes(protectedBytes), cborBytes(new Uint8Array(0)), cborBytes(payload)]);
  }

  // --- keys and COSE_Sign1 ------------------------------------------------------------------------------------

  function fromBase64Url(text) {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Refused("malformed");
    const plain = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    let binary;
    try {
      binary = atob(plain);
    } catch (error) {
      throw new Refused("malformed");
    }
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  async function importKeys(keySet) {
    const keys = new Map();
    for (const jwk of (keySet && keySet.keys) || []) {
      if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") continue;
      const raw = fromBase64Url(jwk.x);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
      const kid = hex(digest.subarray(0, 8));
      if (hex(fromBase64Url(jwk.kid)) !== kid) continue; // a kid that is not its key's: not ours
      keys.set(kid, await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]));
    }
    return keys;
  }

  async function openSign1(message, keys) {
    const tagged = decodeCbor(message);
    if (!tagged || tagged.tag !== COSE_SIGN1_TAG || !Array.isArray(tagged.value) || tagged.value.length !== 4) {
      throw new Refused("malformed");
    }
    const [protectedBytes, , payload, signature] = tagged.value;
    if (![protectedBytes, payload, signature].every((p) => p instanceof Uint8Array)) throw new Refused("malformed");
    const header = decodeCbor(protectedBytes);
    if (!(header instanceof Map) || header.get(1) !== ALG_EDDSA || !(header.get(4) instanceof Uint8Array)) {
      throw new Refused("malformed");
    }
    const kid = hex(header.get(4));
    const key = keys.get(kid);
    if (!key) throw new Refused("unknown_key");
    const good = await crypto.subtle.verify({ name: "Ed25519" }, key, signature,
      sigStructure(protectedBytes, payload));
    if (!good) throw new Refused("bad_signature");
    return { header, payload, kid };
  }

  const isInt = (v) => Number.isSafeInteger(v);
  const dayOf = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);

  async function verifyPayload(text, keys) {
    text = String(text || "").trim();
    if (text.includes("#")) text = text.slice(text.lastIndexOf("#") + 1);
    if (text.length > MAX_TEXT) throw new Refused("malformed");
    if (!text.startsWith(PREFIX)) throw new Refused("no_payload");
    const { header, payload, kid } = await openSign1(fromBase64Url(text.slice(PREFIX.length)), keys);
    if (header.has(3)) throw new Refused("malformed"); // another kind of sealed document
    const claims = decodeCbor(payload);
    const facts = claims instanceof Map ? claims.get(CLAIM_PERMIT) : null;
    if (!(facts instanceof Map) || !isInt(claims.get(6)) || (claims.has(4) && !isInt(claims.get(4)))) {
      throw new Refused("malformed");
    }
    const digest = facts.get(4);
    const result = {
      number: String(facts.get(1)), holder: String(facts.get(2)), service: String(facts.get(3)),
      issued: dayOf(claims.get(6)), expires: claims.has(4) ? dayOf(claims.get(4)) : null,
      pdf: digest instanceof Uint8Array && digest.length === 32 ? hex(digest) : null, kid,
    };
    if ([1, 2, 3].some((k) => typeof facts.get(k) !== "string")) throw new Refused("malformed");
    return result;
  }

  async function verifyRevocations(message, keys) {
    if (message.length > MAX_LIST_BYTES) throw new Refused("malformed");
    const { header, payload, kid } = await openSign1(message, keys);
    if (header.get(3) !== REVOCATIONS_TYPE) throw new Refused("malformed");
    const claims = decodeCbor(payload);
    const body = claims instanceof Map ? claims.get(CLAIM_REVOCATIONS) : null;
    if (!(body instanceof Map) || !isInt(claims.get(6)) || !isInt(body.get(1)) || !Array.isArray(body.get(2))) {
      throw new Refused("malformed");
    }
    const revoked = new Map();
    for (const entry of body.get(2)) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string" || !isInt(entry[1])) throw new Refused("malformed");
      revoked.set(entry[0].trim().toUpperCase(), entry[1]);
    }
    return { issuedAt: claims.get(6), nextUpdate: body.get(1), revoked, kid };
  }

  // --- the page -----------------------------------------------------------------------------------------------

  const data = JSON.parse(document.getElementById("sijill-data").textContent);
  const $ = (id) => document.getElementById(id);
  let lang = "ar";
  let keys = new Map();
  let list = null; // the verified revocation list, or null
  let listState = data.revocations ? "pending" : "none";
  let last = null; // the last check: {verdict, facts?}, redrawn when the language changes
  let unsupported = false; // no Ed25519 in this browser's WebCrypto

  const t = (key, ...args) => {
    const entry = T[lang][key];
    return typeof entry === "function" ? entry(...args) : entry;
  };
  const showDate = (iso) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
  const showSeconds = (seconds) => showDate(dayOf(seconds));
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const todayIso = () => {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  };

  function setText(id, text) {
    $(id).textContent = text;
  }

  function drawStatic() {
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
    document.title = t("title") + " — Sijill / سجل";
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
    setText("keys-note", t("keys", keys.size) + " " + t("made", showDate(data.made_at.slice(0, 10))));
    const note = $("list-note");
    note.dataset.list = listState;
    if (listState === "none") note.textContent = t("list_none");
    else if (listState === "bad") note.textContent = t("list_bad");
    else if (list) {
      const args = [showSeconds(list.issuedAt), showSeconds(list.nextUpdate)];
      note.textContent = listState === "outdated" ? t("list_outdated", ...args) : t("list_ok", ...args);
    }
    $("photo-row").hidden = !("BarcodeDetector" in window);
    drawResult();
  }

  function drawResult() {
    const box = $("result");
    box.replaceChildren();
    $("pdf-row").hidden = true;
    if (!last) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.dataset.verdict = last.verdict;
    box.className = "result " + ({ valid: "good", expired: "warn", busy: "" }[last.verdict] ?? "bad");
    const head = document.createElement("p");
    head.className = "verdict";
    head.id = "verdict";
    box.append(head);
    const f = last.facts;
    const messages = {
      valid: () => t("v_valid"),
      revoked: () => t("v_revoked", showSeconds(last.revokedAt), showSeconds(list.issuedAt)),
      expired: () => t("v_expired", showDate(f.expires)),
      bad_signature: () => t("v_forged"),
      unknown_key: () => t("v_unknown_key"),
      no_payload: () => t("v_no_payload"),
      unsupported: () => t("v_unsupported"),
      busy: () => t("v_busy"),
    };
    head.textContent = (messages[last.verdict] || (() => t("v_malformed")))();
    if (!f) return;
    if (last.verdict !== "revoked") {
      const p = document.createElement("p");
      p.className = "list-verdict";
      if (list && listState !== "bad") {
        p.textContent = listState === "outdated" ?
          t("list_outdated", showSeconds(list.issuedAt), showSeconds(list.nextUpdate)) :
          t("not_revoked", showSeconds(list.issuedAt));
      } else {
        p.textContent = listState === "bad" ? t("list_bad") : t("list_none");
      }
      box.append(p);
    }
    const table = document.createElement("dl");
    table.className = "facts";
    const rows = [["f_number", f.number, "number"], ["f_holder", f.holder, "holder"],
      ["f_service", f.service, "service"], ["f_issued", showDate(f.issued), "issued"],
      ["f_expires", f.expires ? showDate(f.expires) : t("f_none"), "expires"], ["f_kid", f.kid, "kid"]];
    for (const [label, value, name] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = t(label);
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.dataset.fact = name;
      if (name === "number" || name === "kid") dd.dir = "ltr";
      table.append(dt, dd);
    }
    box.append(table);
    const compare = document.createElement("p");
    compare.textContent = t("compare_facts");
    box.append(compare);
    const pdfNote = document.createElement("p");
    pdfNote.id = "pdf-result";
    if (f.pdf) {
      $("pdf-row").hidden = false;
      if (last.pdf) {
        pdfNote.dataset.pdf = last.pdf;
        pdfNote.className = last.pdf === "mismatch" ? "bad-text" : "good-text";
        pdfNote.textContent = t("pdf_" + last.pdf);
      }
    } else {
      pdfNote.dataset.pdf = "none";
      pdfNote.textContent = t("pdf_none");
    }
    box.append(pdfNote);
  }

  async function check(text) {
    if (unsupported) {
      last = { verdict: "unsupported" };
      drawResult();
      return;
    }
    last = { verdict: "busy" };
    drawResult();
    try {
      const facts = await verifyPayload(text, keys);
      let verdict = "valid";
      const revokedAt = list && listState !== "bad" ? list.revoked.get(facts.number.trim().toUpperCase()) : undefined;
      if (revokedAt !== undefined) verdict = "revoked";
      else if (facts.expires && todayIso() > facts.expires) verdict = "expired";
      last = { verdict, facts, revokedAt };
    } catch (error) {
      last = { verdict: error instanceof Refused ? error.reason : "malformed" };
      if (!(error instanceof Refused)) console.error(error);
    }
    drawResult();
  }

  // Where each revision of a PDF may end: after each %%EOF, and after its end-of-line if any (as
  // signing/sealed_payload.py revision_ends).
  function revisionEnds(bytes) {
    const ends = [];
    for (let i = 0; i + 5 <= bytes.length; i++) {
      if (bytes[i] !== 0x25 || bytes[i + 1] !== 0x25 || bytes[i + 2] !== 0x45 || bytes[i + 3] !== 0x4f ||
        bytes[i + 4] !== 0x46) continue;
      const end = i + 5;
      ends.push(end);
      if (bytes[end] === 0x0d && bytes[end + 1] === 0x0a) ends.push(end + 2);
      else if (bytes[end] === 0x0a || bytes[end] === 0x0d) ends.push(end + 1);
      i = end - 1;
    }
    return ends;
  }

  async function sha256Hex(bytes) {
    return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  }

  // "match": the whole file is the sealed one; "first_revision": the file starts with the sealed first revision
  // (the permit as rendered, before the QR and the signatures); "mismatch" otherwise.
  async function checkPdf(file) {
    if (!last || !last.facts || !last.facts.pdf || !file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    let verdict = (await sha256Hex(bytes)) === last.facts.pdf ? "match" : "mismatch";
    if (verdict === "mismatch") {
      for (const end of revisionEnds(bytes).slice(0, MAX_BOUND_REVISIONS)) {
        if ((await sha256Hex(bytes.subarray(0, end))) === last.facts.pdf) {
          verdict = "first_revision";
          break;
        }
      }
    }
    last.pdf = verdict;
    drawResult();
  }

  async function loadList(message, replacing) {
    const candidate = await verifyRevocations(message, keys);
    if (replacing && list && candidate.issuedAt < list.issuedAt) throw new Refused("older");
    list = candidate;
    listState = nowSeconds() > list.nextUpdate ? "outdated" : "current";
  }

  async function start() {
    $("lang").addEventListener("click", () => {
      lang = lang === "ar" ? "en" : "ar";
      drawStatic();
    });
    $("check-form").addEventListener("submit", (event) => {
      event.preventDefault();
      check($("qr-text").value);
    });
    $("pdf-file").addEventListener("change", (event) => checkPdf(event.target.files[0]));
    $("list-file").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      const status = $("list-load-status");
      try {
        if (file.size > MAX_LIST_BYTES) throw new Refused("too_large");
        await loadList(new Uint8Array(await file.arrayBuffer()), true);
        status.dataset.state = "loaded";
        status.textContent = t("list_loaded");
      } catch (error) {
        status.dataset.state = "refused";
        status.textContent = t("list_refused");
      }
      drawStatic();
    });
    $("photo-file").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (!file || !("BarcodeDetector" in window)) return;
      try {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        const found = await detector.detect(await createImageBitmap(file));
        if (!found.length) throw new Error("no code");
        $("qr-text").value = found[0].rawValue;
        check(found[0].rawValue);
      } catch (error) {
        last = null;
        drawResult();
        setText("list-load-status", t("no_photo_code"));
      }
    });
    try {
      keys = await importKeys(data.keys);
    } catch (error) {
      keys = new Map();
      unsupported = true; // no crypto.subtle (not a secure context) or no Ed25519 in it
    }
    if (data.revocations) {
      try {
        await loadList(fromBase64Url(data.revocations), false);
      } catch (error) {
        list = null;
        listState = "bad";
      }
    }
    drawStatic();
    document.body.dataset.ready = "true";
  }

  start();
})();
