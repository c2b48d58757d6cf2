"""The portal's message catalogue: Bahasa Indonesia (default) and English, one entry per
string, so no text is written twice in templates. Domain terms from the PKS (sesuai,
tidak_sesuai, data_tidak_ditemukan, ASN, element labels) stay as the agreements write them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGS = ("id", "en")
DEFAULT_LANG = "id"

M: dict[str, tuple[str, str]] = {
    # frame
    "app.tagline": ("Berbagi data antarinstansi sesuai PKS", "Inter-agency data sharing under PKS"),
    "nav.skip": ("Langsung ke isi", "Skip to content"),
    "nav.menu": ("Menu", "Menu"),
    "nav.beranda": ("Beranda", "Dashboard"),
    "nav.keamanan": ("Keamanan akun", "Account security"),
    "nav.akses_nik": ("Akses NIK", "Look-up by NIK"),
    "nav.verifikasi": ("Verifikasi elemen", "Element verification"),
    "nav.verifikasi_wajah": ("Verifikasi wajah", "Face verification"),
    "nav.cek_status": ("Cek status", "Status check"),
    "nav.pemadanan": ("Pemadanan daftar", "List matching"),
    "nav.regsosek": ("Data Regsosek", "Regsosek data"),
    "nav.tinjauan": ("Tinjauan keluaran", "Output review"),
    "nav.kewajiban": ("Kewajiban & tenggat", "Duties & deadlines"),
    "nav.perjanjian": ("Perjanjian", "Agreements"),
    "nav.akun": ("Akun", "Accounts"),
    "nav.perangkat": ("Pembaca KTP-el", "Card readers"),
    "nav.audit": ("Log audit", "Audit log"),
    "nav.audit_verifikasi": ("Integritas log", "Log integrity"),
    "nav.audit_subjek": ("Riwayat akses orang", "Person's access history"),
    "lang.switch": ("English", "Bahasa Indonesia"),
    "lang.label": ("Bahasa", "Language"),
    "user.signed_in_as": ("Masuk sebagai", "Signed in as"),
    "logout": ("Keluar", "Sign out"),
    "role.hub_admin": ("Admin hub", "Hub administrator"),
    "role.provider_admin": ("Admin penyedia", "Provider administrator"),
    "role.recipient_admin": ("Admin penerima", "Recipient administrator"),
    "role.operator": ("Operator", "Operator"),
    "role.data_user": ("Pengguna Data", "Data user"),
    "role.auditor": ("Auditor", "Auditor"),
    "role.saksi": ("Saksi log audit", "Audit log witness"),
    "footer.note": (
        "Setiap akses diputuskan terhadap perjanjian dan dicatat di log audit.",
        "Every access is decided against the agreement and written to the audit log.",
    ),
    # login
    "login.title": ("Masuk", "Sign in"),
    "login.username": ("User ID", "User ID"),
    "login.password": ("Kata sandi", "Password"),
    "login.submit": ("Masuk", "Sign in"),
    "login.intro": (
        "Masuk dengan User ID dan kata sandi yang diberikan admin instansi Anda.",
        "Sign in with the User ID and password your institution's administrator gave you.",
    ),
    "login.registries": ("Registri di simpul ini", "Registries on this node"),
    "login.records": ("rekaman", "records"),
    "login.api_docs": ("Dokumentasi API", "API documentation"),
    "login.failed": ("User ID atau kata sandi tidak valid.", "Invalid User ID or password."),
    "login.client": (
        "Akun klien mesin tidak dapat masuk ke portal; gunakan web service.",
        "Machine client accounts cannot sign in to the portal; use the web service.",
    ),
    "session.expired": (
        "Sesi Anda berakhir karena tidak aktif atau melewati batas waktu. Silakan masuk lagi.",
        "Your session ended (idle or time limit reached). Please sign in again.",
    ),
    "session.ended": ("Anda telah keluar.", "You have signed out."),
    "session.required": ("Silakan masuk terlebih dahulu.", "Please sign in first."),
    "session.revoked": (
        "Akun Anda telah dicabut; sesi diakhiri.",
        "Your account has been revoked; session ended.",
    ),
    "csrf.failed": (
        "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman lalu coba lagi.",
        "The form expired or is not valid (CSRF token). Reload the page and try again.",
    ),
    "forbidden.title": ("Tidak berwenang", "Not permitted"),
    "forbidden.body": (
        "Peran akun Anda tidak dapat membuka halaman ini.",
        "Your account's role cannot open this page.",
    ),
    "notfound.title": ("Tidak ditemukan", "Not found"),
    "back.home": ("Kembali ke beranda", "Back to the dashboard"),
    # dashboard
    "dash.title": ("Beranda", "Dashboard"),
    "dash.agreements": ("Perjanjian Anda", "Your agreements"),
    "dash.alerts": ("Perlu perhatian", "Needs attention"),
    "dash.more_alerts": ("dan {n} lainnya.", "and {n} more."),
    "dash.none": ("Akun ini belum terikat pada perjanjian.", "This account has no agreement."),
    "dash.services": ("Layanan yang diberikan", "Services granted"),
    "dash.on_behalf": ("Bertindak atas nama Pengguna Data", "Acting for data user"),
    "dash.admin_intro": (
        "Kelola perjanjian, akun, dan perangkat instansi Anda.",
        "Manage your institution's agreements, accounts and devices.",
    ),
    "dash.auditor_intro": (
        "Tampilan baca-saja: log audit, integritasnya, dan riwayat akses per orang.",
        "Read-only views: the audit log, its integrity, and per-person access history.",
    ),
    "col.id": ("ID", "ID"),
    "col.title": ("Judul", "Title"),
    "col.state": ("Status", "State"),
    "col.version": ("Versi", "Version"),
    "col.starts": ("Mulai", "Starts"),
    "col.ends": ("Berakhir", "Ends"),
    "col.days_left": ("Sisa hari", "Days left"),
    "col.parties": ("Para pihak", "Parties"),
    "col.dataset": ("Dataset", "Dataset"),
    "col.service": ("Layanan", "Service"),
    "col.mechanism": ("Mekanisme", "Mechanism"),
    "col.clause": ("Pasal", "Article"),
    "col.element": ("Elemen", "Element"),
    "col.value": ("Nilai", "Value"),
    "col.result": ("Hasil", "Result"),
    "col.action": ("Tindakan", "Action"),
    "col.actor": ("Pelaku", "Actor"),
    "col.reason": ("Alasan", "Reason"),
    "col.time": ("Waktu", "Time"),
    "col.decision": ("Keputusan", "Decision"),
    "col.institution": ("Instansi", "Institution"),
    "col.role": ("Peran", "Role"),
    "col.kind": ("Jenis", "Kind"),
    "col.name": ("Nama", "Name"),
    "col.last_login": ("Terakhir masuk", "Last sign-in"),
    "col.serial": ("Nomor seri", "Serial"),
    "col.sam": ("SAM", "SAM"),
    "col.agreement": ("Perjanjian", "Agreement"),
    "col.provider": ("Penyedia", "Provider"),
    "col.recipient": ("Penerima", "Recipient"),
    "col.obligor": ("Pihak wajib", "Obligor"),
    "col.description": ("Uraian", "Description"),
    "col.seq": ("No.", "No."),
    "col.purpose": ("Tujuan", "Purpose"),
    "col.inputs": ("Elemen masukan", "Input elements"),
    "col.outputs": ("Elemen keluaran", "Output elements"),
    "state.draf": ("draf", "draft"),
    "state.ditandatangani": ("ditandatangani", "signed"),
    "state.berlaku": ("berlaku", "in force"),
    "state.ditangguhkan": ("ditangguhkan", "suspended"),
    "state.berakhir": ("berakhir", "expired"),
    "state.diakhiri": ("diakhiri", "terminated"),
    "demo.version": ("versi ADENDUM DEMO", "DEMO ADDENDUM version"),
    # services
    "nik": ("NIK", "NIK"),
    "svc.submit_lookup": ("Cari", "Look up"),
    "svc.submit_verify": ("Verifikasi", "Verify"),
    "svc.face_intro": (
        "Kirim NIK dan foto wajah (JPEG atau PNG, satu wajah, paling besar 5 MiB). Jawaban: "
        "data tidak ditemukan, atau nilai kemiripan 0-100 (PKS 003 Pasal 2 ayat (1) huruf b). "
        "Foto yang dikirim tidak disimpan dan tidak dicatat.",
        "Send the NIK and a face photo (JPEG or PNG, one face, at most 5 MiB). The answer: "
        "data not found, or a similarity value 0-100 (PKS 003 Article 2(1)b). The photo sent "
        "is neither stored nor logged.",
    ),
    "svc.no_photo": ("Pilih foto wajah untuk dikirim.", "Choose a face photo to send."),
    "svc.similarity": ("Kemiripan", "Similarity"),
    "svc.threshold": ("Ambang", "Threshold"),
    "svc.decision": ("Keputusan", "Decision"),
    "svc.submit_check": ("Periksa", "Check"),
    "svc.lookup_intro": (
        "Elemen data kependudukan sesuai hak akses web portal (PKS 003 Pasal 2 ayat (1) "
        "huruf c), termasuk anggota keluarga dalam satu KK.",
        "Population elements as the web-portal grant allows (PKS 003 Article 2(1)c), "
        "including family members on the same KK.",
    ),
    "svc.verify_intro": (
        "Isi NIK dan elemen yang ingin diverifikasi. Jawaban hanya sesuai / tidak sesuai; "
        "nilai tersimpan tidak pernah ditampilkan (PKS 003 Pasal 2 ayat (1) huruf a).",
        "Enter the NIK and the elements to verify. The answer is only sesuai / tidak sesuai "
        "(match / no match); stored values are never shown (PKS 003 Article 2(1)a).",
    ),
    "svc.check_intro": (
        'Apakah NIK ini ASN? Jawaban "ASN" dengan nama instansi, atau "data tidak '
        'ditemukan" (PKS 001 Pasal 3, PKS 004 Pasal 3-4).',
        'Is this NIK a civil servant? The answer is "ASN" with the institution, or '
        '"data tidak ditemukan" (not found) (PKS 001 Art. 3, PKS 004 Art. 3-4).',
    ),
    "svc.optional": ("opsional", "optional"),
    "svc.found": ("Data ditemukan", "Record found"),
    "svc.not_found": ("Data tidak ditemukan", "Data not found"),
    "svc.family": ("Anggota keluarga dalam satu KK", "Family members on the same KK"),
    "svc.no_family": ("Tidak ada anggota keluarga lain.", "No other family members."),
    "svc.photo": ("Foto wajah", "Face photo"),
    "svc.photo_note": (
        "Foto wajah tidak tersedia untuk NIK ini atau tidak termasuk hak akses Anda.",
        "No face photo is stored for this NIK, or your grant does not include it.",
    ),
    "svc.no_elements": (
        "Isi sedikitnya satu elemen untuk diverifikasi.",
        "Fill in at least one element to verify.",
    ),
    "svc.biodata_differs": (
        "NIK ditemukan, tetapi biodata berbeda pada: {elements}",
        "NIK found, but the personal details differ in: {elements}",
    ),
    "svc.audit_note": (
        "Permintaan ini dicatat di log audit (no. permintaan {request_id}).",
        "This request is recorded in the audit log (request {request_id}).",
    ),
    "result.sesuai": ("sesuai", "sesuai (match)"),
    "result.tidak_sesuai": ("tidak sesuai", "tidak sesuai (no match)"),
    "refused.title": ("Permintaan ditolak", "Request refused"),
    "refused.code": ("Kode", "Code"),
    "refused.hint": (
        "Hubungi admin instansi Anda atau penyedia data bila menurut Anda ini keliru.",
        "Contact your institution's administrator or the data provider if you think this is wrong.",
    ),
    "reason.perjanjian_ditangguhkan": (
        "Perjanjian sedang ditangguhkan oleh penyedia data; akses ditutup sementara.",
        "The agreement is suspended by the data provider; access is closed for now.",
    ),
    "reason.perjanjian_diakhiri": ("Perjanjian telah diakhiri.", "The agreement was terminated."),
    "reason.perjanjian_berakhir": (
        "Jangka waktu perjanjian telah berakhir.",
        "The agreement's term has ended.",
    ),
    "reason.titik_akses_tidak_sah": (
        "Permintaan tidak berasal dari titik akses terdaftar instansi Anda.",
        "The request does not come from your institution's registered access point.",
    ),
    "reason.kuota_terlampaui": (
        "Kuota permintaan perjanjian terlampaui; coba lagi nanti.",
        "The agreement's request quota is used up; try again later.",
    ),
    "reason.layanan_tidak_diizinkan": (
        "Perjanjian Anda tidak memberi layanan ini.",
        "Your agreement does not grant this service.",
    ),
    "reason.peran_tidak_berwenang": (
        "Peran akun ini tidak dapat memakai layanan data.",
        "This account's role cannot use data services.",
    ),
    # matching
    "match.intro": (
        "Unggah daftar (CSV atau XLSX; kolom NIK, nama lengkap, tanggal lahir — nama kolom "
        "SIAK diterima) untuk dipadankan sesuai hak akses perjanjian Anda. Daftar diproses di "
        "latar; halaman pekerjaan menampilkan progresnya.",
        "Upload a list (CSV or XLSX; NIK, full name, date of birth columns — SIAK column "
        "names accepted) to match it as your agreement allows. The list is processed in the "
        "background; the job page shows its progress.",
    ),
    "match.file": ("Berkas daftar", "List file"),
    "match.workflow": ("Alur", "Workflow"),
    "match.wf.bpum": (
        "BPUM — saring calon penerima terhadap ASN (PKS 004)",
        "BPUM — screen aid candidates against ASN (PKS 004)",
    ),
    "match.wf.kpm": (
        "KPM — usulan KPM terhadap ASN (PKS 001)",
        "KPM — proposed beneficiaries against ASN (PKS 001)",
    ),
    "match.wf.umum": ("Umum — padankan dengan dataset pilihan", "General — match a dataset"),
    "match.wf.regsosek": (
        "Regsosek — khusus pemegang BNBA (PKS 000)",
        "Regsosek — BNBA holders only (PKS 000)",
    ),
    "match.dataset": ("Dataset (alur umum)", "Dataset (general workflow)"),
    "match.threshold": ("Ambang kemungkinan cocok", "Probable-match threshold"),
    "match.accept_threshold": (
        "Ambang cocok tanpa tinjauan (kosong: ambang hibah; 1: semua ditinjau)",
        "Threshold for a match without review (empty: the grant's; 1: review all)",
    ),
    "match.submit": ("Unggah dan padankan", "Upload and match"),
    "match.jobs": ("Pekerjaan instansi Anda", "Your institution's jobs"),
    "match.none": ("Belum ada pekerjaan.", "No jobs yet."),
    "match.no_file": ("Pilih berkas daftar terlebih dahulu.", "Choose a list file first."),
    "match.job": ("Pekerjaan pemadanan", "Matching job"),
    "match.progress": ("Progres", "Progress"),
    "match.rows": ("Baris", "Rows"),
    "match.bad_rows": ("baris galat (dilewati)", "rows with errors (skipped)"),
    "match.refresh": (
        "Halaman ini diperbarui otomatis selama pekerjaan berjalan.",
        "This page refreshes by itself while the job runs.",
    ),
    "match.counts": ("Ringkasan hasil", "Result summary"),
    "match.downloads": ("Unduhan", "Downloads"),
    "match.minutes": ("Berita acara (PDF)", "Minutes (PDF)"),
    "match.list.hasil": ("Hasil lengkap (CSV)", "Full results (CSV)"),
    "match.list.penerima": (
        "Daftar penerima setelah ASN dieliminasi (CSV)",
        "Recipients after removing ASN (CSV)",
    ),
    "match.list.balikan": ("Data balikan ke BKN (CSV)", "Feedback data for BKN (CSV)"),
    "match.list.selisih": ("Daftar selisih (CSV)", "Discrepancies (CSV)"),
    "match.list.asn": ("KPM yang ASN (CSV)", "Proposed KPM who are ASN (CSV)"),
    "match.list.cocok": ("Cocok (CSV)", "Matched (CSV)"),
    "match.list.tidak_ditemukan": ("Tidak ditemukan (CSV)", "Not found (CSV)"),
    "match.results": ("Hasil", "Results"),
    "match.all": ("semua", "all"),
    "match.issues": ("Masalah per baris unggahan", "Problems per uploaded row"),
    "match.review": ("Tinjau", "Review"),
    "match.accept": ("Terima", "Accept"),
    "match.reject": ("Tolak", "Reject"),
    "match.reviewed_ok": ("Tinjauan dicatat.", "Review recorded."),
    "match.cancel": ("Batalkan", "Cancel"),
    "match.cancelled_ok": ("Pembatalan diminta.", "Cancellation requested."),
    "match.input": ("Masukan", "Input"),
    "match.probability": ("Probabilitas", "Probability"),
    "match.candidates": (
        "Baris masukan dan kandidat (tanda kesesuaian per elemen; nilai registri tidak "
        "ditampilkan sebelum diterima)",
        "Input row and candidates (agreement per element; registry values are not shown "
        "before acceptance)",
    ),
    "match.candidate": ("Kandidat", "Candidate"),
    "match.element": ("Elemen", "Element"),
    "match.proposed": ("diusulkan", "proposed"),
    "match.prev": ("Sebelumnya", "Previous"),
    "match.next": ("Berikutnya", "Next"),
    # regsosek
    "reg.title": ("Data Regsosek", "Regsosek data"),
    "reg.intro": (
        "Akses berjenjang sesuai PKS 000 Pasal 2: tabel agregat dengan penekanan sel, data "
        "mikro dipseudonimkan, BNBA di dalam cakupan wilayah, dan fasilitas pengolahan.",
        "Tiered access under PKS 000 Article 2: aggregate tables with cell suppression, "
        "pseudonymised microdata, BNBA within the region scope, and the processing facility.",
    ),
    "reg.table": ("Tabel agregat", "Aggregate table"),
    "reg.dimensions": ("Dimensi (sampai 4)", "Dimensions (up to 4)"),
    "reg.level": ("Tingkat wilayah", "Region level"),
    "reg.region": ("Kode wilayah (opsional)", "Region code (optional)"),
    "reg.variable": ("Variabel numerik (opsional)", "Numeric variable (optional)"),
    "reg.build": ("Buat tabel", "Build table"),
    "reg.suppressed": (
        "{cells} sel; {primary} ditekan primer, {secondary} ditekan sekunder (•).",
        "{cells} cells; {primary} primary and {secondary} secondary suppressions (•).",
    ),
    "reg.truncated": (
        "Menampilkan {shown} dari {total} baris; persempit dimensi atau saring wilayah.",
        "Showing {shown} of {total} rows; use fewer dimensions or a region filter.",
    ),
    "reg.extracts": ("Ekstrak data mikro dan BNBA", "Microdata and BNBA extracts"),
    "reg.micro": ("Buat ekstrak data mikro", "Make a microdata extract"),
    "reg.bnba": ("Buat ekstrak BNBA", "Make a BNBA extract"),
    "reg.format": ("Format", "Format"),
    "reg.extract_ready": ("Ekstrak siap: {rows} baris.", "Extract ready: {rows} rows."),
    "reg.download": ("Unduh", "Download"),
    "reg.sandbox": ("Fasilitas pengolahan", "Processing facility"),
    "reg.sandbox_help": (
        "SQL (DuckDB) atas view tingkat akses Anda; keluaran diperiksa sebelum dirilis.",
        "SQL (DuckDB) over the views of your access tier; outputs are checked before release.",
    ),
    "reg.sql": ("SQL", "SQL"),
    "reg.purpose": ("Tujuan", "Purpose"),
    "reg.run": ("Jalankan", "Run"),
    "reg.output_status": ("Status keluaran", "Output status"),
    "reg.source": ("Sumber", "Source"),
    "reg.review_title": ("Tinjauan keluaran fasilitas pengolahan", "Processing output review"),
    "reg.review_intro": (
        "Keluaran yang gagal pemeriksaan disklosur menunggu keputusan Anda; alasan dicatat.",
        "Outputs that failed the disclosure checks wait for your decision; reasons are logged.",
    ),
    "reg.review_none": ("Tidak ada keluaran yang menunggu.", "No output is waiting."),
    "reg.approve": ("Setujui", "Approve"),
    "reg.reject": ("Tolak", "Reject"),
    "reg.reviewed_ok": ("Keputusan tinjauan dicatat.", "Review decision recorded."),
    # duties
    "duty.title": ("Kewajiban dan tenggat", "Duties and deadlines"),
    "duty.intro": (
        "Tenggat kewajiban perjanjian Anda: implementasi teknis, pemberitahuan perpanjangan, "
        "laporan semester, evaluasi, berita acara, data balikan; terdekat lebih dulu.",
        "Deadlines of your agreements' duties: technical implementation, renewal notice, "
        "semester reports, evaluations, minutes, feedback data; nearest first.",
    ),
    "duty.show_all": ("Tampilkan juga yang sudah dipenuhi", "Also show those fulfilled"),
    "duty.show_open": ("Hanya yang terbuka", "Open only"),
    "duty.none": ("Tidak ada tenggat terbuka.", "No open deadlines."),
    "duty.due": ("Tenggat", "Due"),
    "duty.outstanding": ("terutang", "owed"),
    "duty.feedback": ("Unggah data balikan", "Upload feedback data"),
    "duty.feedback_help": (
        "CSV dengan kolom nik dan elemen yang diwajibkan perjanjian; setiap baris diperiksa "
        "terhadap subjek yang diakses.",
        "CSV with a nik column and the elements the agreement requires; every row is checked "
        "against the subjects accessed.",
    ),
    "duty.feedback_ok": (
        "Data balikan diterima: {accepted} dari {total} baris; {rejected} ditolak.",
        "Feedback received: {accepted} of {total} rows; {rejected} rejected.",
    ),
    "duty.report": ("Sampaikan laporan semester", "Submit a semester report"),
    "duty.year": ("Tahun", "Year"),
    "duty.semester": ("Semester", "Semester"),
    "duty.narrative": ("Uraian laporan", "Report narrative"),
    "duty.report_ok": ("Laporan semester disampaikan.", "Semester report submitted."),
    "duty.received": ("Data balikan yang diterima", "Feedback data received"),
    "duty.received_csv": ("unduh CSV (dicatat di log audit)", "download CSV (audited)"),
    "duty.evaluation": ("Catat evaluasi", "Record an evaluation"),
    "duty.period": ("Periode (mis. 2026-S2)", "Period (e.g. 2026-S2)"),
    "duty.recommendation": ("Rekomendasi", "Recommendation"),
    "duty.findings": ("Temuan (satu per baris)", "Findings (one per line)"),
    "duty.evaluation_ok": ("Evaluasi dicatat.", "Evaluation recorded."),
    "duty.file": ("Berkas CSV", "CSV file"),
    "duty.note": ("Keterangan (mis. nomor surat)", "Note (e.g. letter number)"),
    "duty.record": ("Catat dipenuhi", "Record as done"),
    "duty.fulfilled_ok": ("Kewajiban dicatat terpenuhi.", "Duty recorded as fulfilled."),
    "duty.upload": ("Unggah", "Upload"),
    "duty.submit": ("Sampaikan", "Submit"),
    "duty.usage": ("Laporan penggunaan semester ini", "This semester's usage report"),
    "dstatus.dipenuhi": ("dipenuhi", "fulfilled"),
    "dstatus.dipenuhi_terlambat": ("dipenuhi terlambat", "fulfilled late"),
    "dstatus.terlambat": ("terlambat", "overdue"),
    "dstatus.segera": ("segera", "due soon"),
    "dstatus.akan_datang": ("akan datang", "upcoming"),
    "dstatus.tanpa_tenggat": ("tanpa tenggat", "no due date"),
    # agreements
    "agr.title": ("Perjanjian", "Agreements"),
    "agr.detail": ("Rincian perjanjian", "Agreement detail"),
    "agr.timeline": ("Riwayat", "Timeline"),
    "agr.versions": ("Versi dan adendum", "Versions and addenda"),
    "agr.grants": ("Hak akses (hibah)", "Grants"),
    "agr.duties": ("Kewajiban", "Duties"),
    "agr.accounts": ("Akun terikat", "Bound accounts"),
    "agr.suspend": ("Tangguhkan", "Suspend"),
    "agr.resume": ("Lanjutkan", "Resume"),
    "agr.reason": ("Alasan (dicatat di log audit)", "Reason (written to the audit log)"),
    "agr.suspend_help": (
        "Menangguhkan menutup akses seketika di semua jalur (PKS 000 Pasal 6 ayat (1) huruf c).",
        "Suspending closes access at once on every path (PKS 000 Article 6(1)c).",
    ),
    "agr.suspended_ok": ("Perjanjian ditangguhkan.", "Agreement suspended."),
    "agr.resumed_ok": ("Perjanjian dilanjutkan.", "Agreement resumed."),
    "agr.in_force_version": ("Versi berlaku", "Version in force"),
    "agr.addendum": ("Adendum", "Addendum"),
    "agr.original": ("Naskah awal", "Original"),
    "agr.from": ("berlaku sejak", "effective from"),
    # accounts
    "acct.title": ("Akun", "Accounts"),
    "acct.create": ("Buat akun", "Create account"),
    "acct.username": ("User ID", "User ID"),
    "acct.full_name": ("Nama lengkap", "Full name"),
    "acct.operator_of": ("Operator untuk Pengguna Data", "Operator for data user"),
    "acct.agreements": ("Perjanjian (untuk Pengguna Data)", "Agreements (for data users)"),
    "acct.created_ok": (
        "Akun {username} dibuat. Kata sandi awal (tampil sekali, sampaikan secara aman):",
        "Account {username} created. Initial password (shown once, hand it over safely):",
    ),
    "acct.reset": ("Atur ulang kata sandi", "Reset password"),
    "acct.reset_ok": (
        "Kata sandi baru {username} (tampil sekali):",
        "New password for {username} (shown once):",
    ),
    "acct.revoke": ("Cabut", "Revoke"),
    "acct.revoked_ok": ("Akun dicabut.", "Account revoked."),
    "acct.status.aktif": ("aktif", "active"),
    "acct.status.dicabut": ("dicabut", "revoked"),
    "acct.locked": ("terkunci", "locked"),
    "acct.none": ("—", "—"),
    "acct.second_factor": ("Faktor kedua", "Second factor"),
    "acct.second_factor_on": ("aktif", "on"),
    "acct.second_factor_reset": ("Atur ulang faktor kedua", "Reset second factor"),
    "acct.second_factor_reset_ok": (
        "Faktor kedua diatur ulang; pengguna mendaftar lagi saat masuk berikutnya.",
        "Second factor reset; the user enrols again at the next sign-in.",
    ),
    # second factor (TOTP)
    "mfa.title.kode": ("Kode faktor kedua", "Second-factor code"),
    "mfa.title.daftar": ("Aktifkan faktor kedua", "Set up a second factor"),
    "mfa.title.kode_pemulihan": ("Kode pemulihan", "Recovery codes"),
    "mfa.title.keamanan": ("Keamanan akun", "Account security"),
    "mfa.code_intro": (
        "Kata sandi {username} benar. Masukkan kode 6 angka dari aplikasi autentikator Anda.",
        "The password for {username} is correct. Enter the 6-digit code from your "
        "authenticator app.",
    ),
    "mfa.code": ("Kode", "Code"),
    "mfa.verify": ("Verifikasi", "Verify"),
    "mfa.code_recovery_hint": (
        "Ponsel hilang? Masukkan salah satu kode pemulihan Anda (sekali pakai).",
        "Lost your phone? Enter one of your recovery codes (single use).",
    ),
    "mfa.enrol_intro": (
        "Akun ini wajib memakai faktor kedua. Pindai kode QR dengan aplikasi autentikator "
        "(mis. Google Authenticator, Aegis, FreeOTP), lalu masukkan kode yang tampil.",
        "This account must use a second factor. Scan the QR code with an authenticator app "
        "(e.g. Google Authenticator, Aegis, FreeOTP), then enter the code it shows.",
    ),
    "mfa.qr_alt": ("Kode QR untuk aplikasi autentikator", "QR code for the authenticator app"),
    "mfa.manual": (
        "Tidak dapat memindai? Masukkan kunci ini secara manual:",
        "Cannot scan? Enter this key by hand:",
    ),
    "mfa.first_code": ("Kode dari aplikasi", "Code from the app"),
    "mfa.activate": ("Aktifkan", "Activate"),
    "mfa.enrolled_ok": ("Faktor kedua aktif.", "Second factor is on."),
    "mfa.renewed_ok": (
        "Kode pemulihan baru dibuat; kode lama tidak berlaku lagi.",
        "New recovery codes made; the old ones no longer work.",
    ),
    "mfa.codes_intro": (
        "Simpan kode pemulihan ini di tempat aman. Masing-masing hanya dapat dipakai sekali "
        "bila ponsel Anda hilang. Kode ini tidak akan ditampilkan lagi.",
        "Keep these recovery codes somewhere safe. Each works once if you lose your phone. "
        "They will not be shown again.",
    ),
    "mfa.continue": ("Lanjut", "Continue"),
    "mfa.state_on": (
        "Faktor kedua (TOTP) aktif: setiap kali masuk, portal meminta kode dari aplikasi Anda.",
        "Second factor (TOTP) is on: every sign-in asks for a code from your app.",
    ),
    "mfa.state_off": (
        "Faktor kedua belum aktif untuk akun ini.",
        "No second factor is set up for this account.",
    ),
    "mfa.codes_left": ("Sisa kode pemulihan: {left}.", "Recovery codes left: {left}."),
    "mfa.renew": ("Buat kode pemulihan baru", "Make new recovery codes"),
    "mfa.enrol": ("Aktifkan faktor kedua", "Set up a second factor"),
    "mfa.lost_hint": (
        "Ponsel dan kode pemulihan hilang? Minta administrator instansi Anda mengatur ulang "
        "faktor kedua.",
        "Lost both your phone and recovery codes? Ask your institution's administrator to "
        "reset the second factor.",
    ),
    "user.security": ("Keamanan akun", "Account security"),
    "reason.kode_faktor_kedua_salah": (
        "Kode salah atau sudah dipakai. Tunggu kode berikutnya dari aplikasi Anda.",
        "Wrong or already used code. Wait for the next code from your app.",
    ),
    # devices
    "dev.title": ("Pembaca KTP-el", "KTP-el card readers"),
    "dev.register": ("Daftarkan pembaca", "Register a reader"),
    "dev.activate": ("Aktifkan", "Activate"),
    "dev.deactivate": ("Nonaktifkan", "Deactivate"),
    "dev.registered_ok": ("Pembaca didaftarkan.", "Reader registered."),
    "dev.activated_ok": ("Pembaca diaktifkan.", "Reader activated."),
    "dev.deactivated_ok": ("Pembaca dinonaktifkan.", "Reader deactivated."),
    "dev.none": ("Belum ada pembaca terdaftar.", "No readers registered."),
    "dev.status.terdaftar": ("terdaftar", "registered"),
    "dev.status.aktif": ("aktif", "active"),
    "dev.status.nonaktif": ("nonaktif", "inactive"),
    # audit
    "audit.title": ("Log audit", "Audit log"),
    "audit.filter": ("Saring", "Filter"),
    "audit.since": ("Sejak (tanggal)", "Since (date)"),
    "audit.until": ("Sampai (tanggal)", "Until (date)"),
    "audit.any": ("semua", "any"),
    "audit.older": ("Lebih lama", "Older"),
    "audit.none": ("Tidak ada rekaman.", "No records."),
    "audit.scope_all": ("Cakupan: seluruh log.", "Scope: the whole log."),
    "audit.scope_inst": (
        "Cakupan: rekaman instansi {institution} dan perjanjian yang melibatkannya.",
        "Scope: records of {institution} and of agreements it is party to.",
    ),
    "audit.verify_title": ("Integritas log audit", "Audit log integrity"),
    "audit.verify_ok": (
        "Utuh: {records} rekaman dan {checkpoints} checkpoint bertanda tangan diperiksa.",
        "Intact: {records} records and {checkpoints} signed checkpoints checked.",
    ),
    "audit.verify_bad": (
        "RUSAK: rekaman #{seq} — {reason}: {detail}",
        "BROKEN: record #{seq} — {reason}: {detail}",
    ),
    "audit.verify_help": (
        "Rantai hash setiap rekaman, urutan, dan akar Merkle checkpoint diperiksa ulang "
        "saat halaman ini dibuka.",
        "Each record's hash chain, the order, and the checkpoints' Merkle roots are "
        "re-checked when this page opens.",
    ),
    "audit.subject_title": ("Riwayat akses satu orang", "One person's access history"),
    "audit.subject_intro": (
        "Siapa mengakses data seseorang, kapan, dengan dasar perjanjian apa "
        "(UU PDP Pasal 32). Log menyimpan hash NIK, bukan NIK.",
        "Who accessed a person's data, when, under which agreement (Personal Data "
        "Protection Law Art. 32). The log keeps a keyed hash of the NIK, never the NIK.",
    ),
    "audit.subject_for": ("Riwayat untuk NIK {nik}", "History for NIK {nik}"),
    "audit.subject_none": ("Tidak ada akses tercatat.", "No recorded access."),
    "col.proof": ("Bukti", "Proof"),
    "audit.proof_witnessed": (
        "Terverifikasi: checkpoint #{size}, dikosignatur {n} saksi ({names})",
        "Verified: checkpoint #{size}, cosigned by {n} witness(es) ({names})",
    ),
    "audit.proof_unwitnessed": (
        "Tercakup checkpoint #{size}; belum dikosignatur saksi",
        "In checkpoint #{size}; not yet cosigned by a witness",
    ),
    "audit.proof_pending": ("Belum tercakup checkpoint", "Not yet in a checkpoint"),
    "audit.proof_invalid": ("Bukti TIDAK sah", "Proof INVALID"),
    "decision.izin": ("izin", "allowed"),
    "decision.tolak": ("tolak", "denied"),
    "decision.tindakan": ("tindakan", "action"),
    # generic
    "error.title": ("Terjadi kesalahan", "Something went wrong"),
    "save": ("Simpan", "Save"),
    "cancel": ("Batal", "Cancel"),
    "yes": ("ya", "yes"),
    "no": ("tidak", "no"),
    "choose": ("— pilih —", "— choose —"),
}


def translate(lang: str, key: str, **values: Any) -> str:
    entry = M.get(key)
    if entry is None:
        return key
    text = entry[1] if lang == "en" else entry[0]
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    return t


def has(key: str) -> bool:
    return key in M
