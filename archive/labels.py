"""The people's names for every code Sijill stores: statuses, decisions, audit actions, report kinds, channels.

Codes (``in_review``, ``application.recommend``, ``monthly``) are for programs; a person reads these names instead,
in Arabic or English. This is the one place for them: the web pages (``web.i18n.label``), the governance reports
(PDF, CSV, XLSX) and the audit trail's sentences all read from here, and ``tests/test_labels.py`` checks that every
code the models and services can write has both names. Names of things kept as data (services, centres) live in
their rows (``name_ar``/``name_en``); governorates in ``intake.national_id.GOVERNORATES``; roles in
``archive.roles.ROLE_LABELS``.

Audit sentences take ``{actor}`` (a full name, or "النظام"/"the system") and sometimes ``{subject}``; the web adapter
isolates both (bidi) before filling them in.
"""

from __future__ import annotations

Pair = tuple[str, str]

APPLICATION_STATUS: dict[str, Pair] = {
    "received": ("تم استلام الطلب", "Received"),
    "in_review": ("قيد المراجعة", "Under review"),
    "awaiting_signature": ("في انتظار التوقيع", "Awaiting signature"),
    "returned": ("أعيد للاستكمال", "Returned for completion"),
    "approved": ("تم الاعتماد", "Approved"),
    "rejected": ("مرفوض", "Rejected"),
    "issued": ("صدر الترخيص", "Permit issued"),
}

STEP_STATUS: dict[str, Pair] = {
    "waiting": ("في الانتظار", "Waiting"),
    "active": ("الخطوة الحالية", "Current step"),
    "done": ("تمت", "Done"),
    "returned": ("أعادها للاستكمال", "Returned it for completion"),
    "cancelled": ("ملغاة", "Cancelled"),
}

PERMIT_STATUS: dict[str, Pair] = {
    "draft": ("مسودة قيد التوقيع", "Draft being signed"),
    "issued": ("صادر", "Issued"),
    "revoked": ("ملغى", "Revoked"),
    "expired": ("منتهي", "Expired"),
}

# An official's decision on a step, as counted in the workload tables ("توصية: 3", not "recommend: 3").
DECISIONS: dict[str, Pair] = {
    "recommend": ("توصية بالموافقة", "Recommendation"),
    "approve": ("اعتماد", "Approval"),
    "sign": ("توقيع", "Signature"),
    "reject": ("رفض", "Rejection"),
    "return": ("إعادة للاستكمال", "Return for completion"),
}

TRANSITIONS: dict[str, Pair] = {
    "open": ("فتح دورة العمل", "Workflow opened"),
    "recommend": ("توصية بالموافقة", "Recommended approval"),
    "approve": ("اعتماد", "Approved"),
    "sign": ("توقيع إلكتروني", "Signed electronically"),
    "reject": ("رفض", "Rejected"),
    "return": ("إعادة للاستكمال", "Returned for completion"),
    "resubmit": ("إعادة التقديم بعد الاستكمال", "Resubmitted after completion"),
    "reassign": ("إعادة إسناد خطوة", "Step reassigned"),
    "issue": ("إصدار الترخيص", "Permit issued"),
    "revoke": ("إلغاء الترخيص", "Permit revoked"),
}

OCR_STATUS: dict[str, Pair] = {
    "pending": ("في الانتظار", "Waiting"),
    "running": ("جارٍ التعرف على النص", "Reading the text"),
    "done": ("تمت القراءة", "Read"),
    "failed": ("تعذرت القراءة", "Could not be read"),
}

CHANNELS: dict[str, Pair] = {
    "window": ("الشباك الواحد", "One-stop window"),
    "api": ("الواجهة البرمجية", "API"),
    "import": ("استيراد من الماسح الضوئي", "Scanner import"),
}

REPORT_KINDS: dict[str, Pair] = {
    "monthly": ("شهري", "Monthly"),
    "quarterly": ("ربع سنوي", "Quarterly"),
    "annual": ("سنوي", "Annual"),
}

DEPARTMENTS: dict[str, Pair] = {
    "engineering": ("الإدارة الهندسية", "Engineering department"),
    "council": ("مجلس المدينة", "City council"),
    "finance": ("الشؤون المالية", "Finance"),
    "state_property": ("أملاك الدولة", "State property"),
    "licensing": ("إدارة التراخيص", "Licensing"),
    "civil_defence": ("الحماية المدنية", "Civil defence"),
    "health": ("مديرية الصحة", "Health directorate"),
}

# Fields of a certificate's subject or issuer name (asn1crypto's names for the X.500 attributes), shown to people.
CERTIFICATE_NAME_FIELDS: dict[str, Pair] = {
    "common_name": ("الاسم الشائع", "Common name"),
    "given_name": ("الاسم الأول", "Given name"),
    "surname": ("اسم العائلة", "Surname"),
    "name": ("الاسم", "Name"),
    "pseudonym": ("الاسم المستعار", "Pseudonym"),
    "title": ("الصفة الوظيفية", "Title"),
    "serial_number": ("الرقم التسلسلي للشخص", "Serial number"),
    "organization_name": ("المؤسسة", "Organisation"),
    "organizational_unit_name": ("الوحدة التنظيمية", "Organisational unit"),
    "organization_identifier": ("معرّف المؤسسة", "Organisation identifier"),
    "business_category": ("فئة النشاط", "Business category"),
    "country_name": ("الدولة", "Country"),
    "state_or_province_name": ("المحافظة / الولاية", "State or province"),
    "locality_name": ("المدينة", "Locality"),
    "street_address": ("العنوان", "Street address"),
    "postal_code": ("الرمز البريدي", "Postal code"),
    "telephone_number": ("الهاتف", "Telephone"),
    "email_address": ("البريد الإلكتروني", "E-mail address"),
    "domain_component": ("مكوّن النطاق", "Domain component"),
    "user_id": ("معرّف المستخدم", "User ID"),
    "initials": ("الأحرف الأولى", "Initials"),
    "dn_qualifier": ("مميّز الاسم", "DN qualifier"),
}

# Audit actions as sentences: {actor} did this (to {subject} where it says so).
AUDIT_SENTENCES: dict[str, Pair] = {
    "application.register": ("سجّل {actor} الطلب في الشباك", "{actor} registered the application at the window"),
    "application.open": ("فُتحت دورة العمل للطلب", "The workflow was opened"),
    "application.recommend": ("أوصى {actor} بالموافقة", "{actor} recommended approval"),
    "application.approve": ("اعتمد {actor} الطلب", "{actor} approved the application"),
    "application.sign": ("وقّع {actor} الترخيص إلكترونيًا", "{actor} signed the permit electronically"),
    "application.reject": ("رفض {actor} الطلب", "{actor} rejected the application"),
    "application.add_documents": ("أضاف {actor} مستندات إلى الطلب", "{actor} added documents to the application"),
    "application.return": ("أعاد {actor} الطلب إلى الشباك للاستكمال",
                           "{actor} returned the application for completion"),
    "application.resubmit": ("أعاد {actor} تقديم الطلب بعد استكماله", "{actor} resubmitted the application"),
    "application.reassign": ("أسند {actor} خطوة إلى موظف آخر", "{actor} reassigned a step"),
    "application.issue": ("صدر الترخيص بعد اكتمال التوقيعات", "The permit was issued once every signature was in"),
    "application.revoke": ("ألغى {actor} الترخيص", "{actor} revoked the permit"),
    "application.view": ("اطّلع {actor} على الطلب", "{actor} viewed the application"),
    "page.view": ("اطّلع {actor} على صفحات ممسوحة", "{actor} viewed scanned pages"),
    "receipt.download": ("نزّل {actor} الإيصال", "{actor} downloaded the receipt"),
    "permit.download": ("نزّل {actor} الترخيص", "{actor} downloaded the permit"),
    "document.download": ("نزّل {actor} مستندًا", "{actor} downloaded a document"),
    "document.searchable_pdf": ("نزّل {actor} نسخة PDF قابلة للبحث", "{actor} downloaded a searchable PDF"),
    "page.words": ("اطّلع {actor} على نص صفحة ممسوحة", "{actor} viewed a scanned page's text"),
    "search.record_opened": ("فتح {actor} الطلب من البحث في الأرشيف", "{actor} opened the record from archive search"),
    "search.query": ("بحث {actor} في الأرشيف", "{actor} searched the archive"),
    "search.export": ("صدّر {actor} نتائج بحث في الأرشيف", "{actor} exported archive search results"),
    "login.ok": ("سجّل {actor} الدخول", "{actor} logged in"),
    "login.failed": ("محاولة دخول فاشلة", "A failed login attempt"),
    "admin.user.create": ("أنشأ {actor} حساب مستخدم", "{actor} created a user account"),
    "admin.user.update": ("عدّل {actor} حساب مستخدم", "{actor} changed a user account"),
    "admin.user.password_reset": ("أعاد {actor} تعيين كلمة مرور مستخدم", "{actor} reset a user's password"),
    "admin.user.deactivate": ("أوقف {actor} حساب مستخدم", "{actor} deactivated a user account"),
    "admin.user.activate": ("أعاد {actor} تفعيل حساب مستخدم", "{actor} reactivated a user account"),
    "admin.user.email": ("سُجّل بريد إلكتروني لحساب مستخدم", "A user account's e-mail address was set"),
    "legal_hold.place": ("وضع {actor} الملف تحت التحفظ القانوني", "{actor} placed the case file under legal hold"),
    "legal_hold.release": ("رفع {actor} التحفظ القانوني عن الملف", "{actor} released the legal hold on the case file"),
    "admin.catalogue": ("عدّل {actor} دليل الخدمات", "{actor} changed the service catalogue"),
    "admin.catalogue.service": ("عدّل {actor} خدمة في دليل الخدمات", "{actor} changed a service in the catalogue"),
    "admin.certificate.register": ("سجّل {actor} شهادة توقيع", "{actor} registered a signing certificate"),
    "admin.certificate.deactivate": ("أوقف {actor} شهادة توقيع", "{actor} deactivated a signing certificate"),
    "admin.trust_root.add": ("أضاف {actor} جهة تصديق موثوقة", "{actor} added a trusted certification authority"),
    "admin.trust_root.deactivate": ("أوقف {actor} الثقة في جهة تصديق",
                                    "{actor} stopped trusting a certification authority"),
    "archive.rebuild": ("أُعيد بناء قاعدة البيانات من الأرشيف", "The database was rebuilt from the archive"),
    "retention.release": ("أنهى {actor} مدة حفظ مبكرًا", "{actor} ended a retention period early"),
    "fixity.repaired": ("أُصلحت نسخة تالفة من الأرشيف", "A damaged archive copy was repaired"),
    "fixity.unrepairable": ("تعذر إصلاح نسخة تالفة من الأرشيف", "A damaged archive copy could not be repaired"),
}

AUDIT_VARIANTS: dict[tuple[str, str], Pair] = {
    ("admin.catalogue.service", "withdrawn"): (
        "أوقف {actor} الخدمة {subject} فلم تعد تُعرض في شباك التسجيل",
        "{actor} withdrew the service {subject} from the registration window"),
    ("admin.catalogue.service", "offered_again"): (
        "أتاح {actor} الخدمة {subject} من جديد في شباك التسجيل",
        "{actor} offered the service {subject} again at the registration window"),
}
"""Sentences for what an event's details say happened, where the action alone says too little ("changed a service"
when it was withdrawn); ``{subject}`` is the key of the event's subject (the service's code)."""

SYSTEM: Pair = ("النظام", "the system")


def name_of(table: dict[str, Pair], code: str | None, arabic: bool) -> str:
    """The Arabic or English name of ``code``; an unknown code is shown as it is (the label test catches it)."""
    if code is None:
        return ""
    pair = table.get(str(code))
    if pair is None:
        return str(code)
    return pair[0] if arabic else pair[1]


def audit_variant(action: str, details: object) -> str | None:
    """Which of :data:`AUDIT_VARIANTS` the event's details call for, if any: a service withdrawn (no longer offered,
    it was before) or offered again (offered, it was not, and not just created)."""
    if action != "admin.catalogue.service" or not isinstance(details, dict):
        return None
    offered, was_offered = details.get("offered"), details.get("was_offered")
    if offered is False and was_offered is True:
        return "withdrawn"
    if offered is True and was_offered is False and not details.get("created"):
        return "offered_again"
    return None


def sentence_template(action: str, arabic: bool, details: object = None) -> str:
    """The sentence of an audit action with ``{actor}`` (and, for a variant, ``{subject}``) to fill in, chosen by the
    event's ``details`` where they say more than the action; an action without one says so plainly."""
    variant = audit_variant(action, details)
    pair = AUDIT_VARIANTS[(action, variant)] if variant is not None else AUDIT_SENTENCES.get(
        action, ("إجراء آخر على السجل ({actor})", "Another action on the record ({actor})"))
    return pair[0] if arabic else pair[1]


def audit_sentence(action: str, actor: str | None, arabic: bool, details: object = None, subject: str = "") -> str:
    """One audit event as plain text: "أوصى المهندس المراجع بالموافقة"."""
    who = actor or (SYSTEM[0] if arabic else SYSTEM[1].capitalize())
    return sentence_template(action, arabic, details).format(actor=who, subject=subject.partition(":")[2])
