"""What the pages say, Vietnamese first, English available (``?lang=en``)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["vi", "en"]

MESSAGES: dict[str, dict[str, str]] = {
    "site_title": {
        "vi": "Khảo sát sự hài lòng về dịch vụ hành chính công",
        "en": "Public administrative service satisfaction survey",
    },
    "skip": {"vi": "Bỏ qua, đến nội dung chính", "en": "Skip to main content"},
    "lang_switch": {"vi": "English", "en": "Tiếng Việt"},
    "unit_label": {"vi": "Cơ quan, đơn vị được đánh giá", "en": "Office being rated"},
    "intro": {
        "vi": "Ông/Bà vừa giải quyết thủ tục hành chính tại cơ quan trên. Xin Ông/Bà dành "
        "khoảng 3–5 phút cho biết ý kiến. Phiếu khảo sát ẩn danh: câu trả lời không gắn với "
        "họ tên, số điện thoại hay hồ sơ của Ông/Bà và được giữ bí mật theo quy định về điều "
        "tra xã hội học.",
        "en": "You have just completed an administrative procedure at this office. Please take "
        "3–5 minutes to tell us how it went. The survey is anonymous: your answers are not "
        "linked to your name, phone number or dossier and are kept confidential.",
    },
    "optional_note": {
        "vi": "Câu nào Ông/Bà không muốn trả lời thì có thể bỏ qua.",
        "en": "You may skip any question you prefer not to answer.",
    },
    "comment_label": {"vi": "Ý kiến khác (không bắt buộc)", "en": "Other comments (optional)"},
    "comment_hint": {
        "vi": "Tối đa 2000 ký tự. Xin đừng ghi họ tên, số điện thoại hay số giấy tờ.",
        "en": "At most 2000 characters. Please do not write names, phone or ID numbers.",
    },
    "callback_legend": {"vi": "Liên hệ lại (không bắt buộc)", "en": "Call back (optional)"},
    "callback_optin": {
        "vi": "Tôi muốn cơ quan liên hệ lại với tôi về ý kiến này",
        "en": "I would like the office to contact me about my comments",
    },
    "callback_note": {
        "vi": "Chỉ khi Ông/Bà đánh dấu ô trên, số điện thoại hoặc thư điện tử dưới đây mới được "
        "gửi (đã mã hoá) đến bộ phận xử lý phản ánh, kiến nghị. Câu trả lời vẫn ẩn danh.",
        "en": "Only if you tick the box above is the phone number or e-mail below sent "
        "(encrypted) to the office that handles feedback. Your answers stay anonymous.",
    },
    "callback_phone": {"vi": "Số điện thoại", "en": "Phone number"},
    "callback_email": {"vi": "Thư điện tử", "en": "E-mail"},
    "submit": {"vi": "Gửi phiếu khảo sát", "en": "Send my answers"},
    "errors_title": {
        "vi": "Phiếu chưa gửi được. Xin Ông/Bà kiểm tra lại:",
        "en": "Your answers were not sent. Please check:",
    },
    "error_answer": {"vi": "Câu trả lời không hợp lệ.", "en": "This answer is not valid."},
    "error_no_answer": {
        "vi": "Ông/Bà chưa trả lời câu hỏi nào.",
        "en": "You have not answered any question.",
    },
    "error_comment": {
        "vi": "Ý kiến quá dài (tối đa 2000 ký tự).",
        "en": "The comment is too long (at most 2000 characters).",
    },
    "error_callback_phone": {
        "vi": "Số điện thoại không hợp lệ.",
        "en": "This phone number is not valid.",
    },
    "error_callback_email": {
        "vi": "Địa chỉ thư điện tử không hợp lệ.",
        "en": "This e-mail address is not valid.",
    },
    "error_callback_missing": {
        "vi": "Xin ghi số điện thoại hoặc thư điện tử để được liên hệ lại.",
        "en": "Give a phone number or an e-mail so that we can contact you.",
    },
    "error_kind": {
        "vi": "Xin chọn Ông/Bà là cá nhân hay đại diện tổ chức.",
        "en": "Please say whether you are an individual or represent an organisation.",
    },
    "thanks_title": {"vi": "Cảm ơn Ông/Bà!", "en": "Thank you!"},
    "thanks_body": {
        "vi": "Ý kiến của Ông/Bà đã được ghi nhận. Kết quả khảo sát giúp cơ quan hành chính "
        "phục vụ người dân, tổ chức tốt hơn.",
        "en": "Your answers have been recorded. They help the administration serve people "
        "and organisations better.",
    },
    "used_title": {
        "vi": "Phiếu khảo sát này đã được gửi",
        "en": "These answers have already been sent",
    },
    "used_body": {
        "vi": "Mỗi đường liên kết chỉ dùng được một lần và ý kiến của Ông/Bà đã được ghi nhận "
        "trước đó. Ông/Bà không cần làm gì thêm. Cảm ơn Ông/Bà.",
        "en": "Each link can be used once and your answers were already recorded. There is "
        "nothing more to do. Thank you.",
    },
    "expired_title": {"vi": "Đường liên kết đã hết hạn", "en": "This link has expired"},
    "expired_body": {
        "vi": "Thời hạn trả lời khảo sát này đã kết thúc. Cảm ơn Ông/Bà đã quan tâm.",
        "en": "The time to answer this survey has ended. Thank you for your interest.",
    },
    "unknown_title": {"vi": "Đường liên kết không hợp lệ", "en": "This link is not valid"},
    "unknown_body": {
        "vi": "Xin kiểm tra lại đường liên kết trong tin nhắn: chép đầy đủ, không thiếu ký tự.",
        "en": "Please check the link in your message and copy it in full.",
    },
    "nocookie_title": {"vi": "Chưa mở được phiếu", "en": "The survey could not be opened"},
    "nocookie_body": {
        "vi": "Xin mở lại đường liên kết trong tin nhắn. Nếu vẫn không được, hãy cho phép "
        "trình duyệt lưu cookie của trang này.",
        "en": "Please open the link in your message again. If it still fails, allow this "
        "site's cookies in your browser.",
    },
    "forbidden_title": {"vi": "Yêu cầu bị từ chối", "en": "Request refused"},
    "forbidden_body": {
        "vi": "Phiếu phải được gửi từ chính trang khảo sát. Xin mở lại đường liên kết.",
        "en": "Answers must be sent from the survey page itself. Please open the link again.",
    },
    "slow_title": {"vi": "Xin thử lại sau ít phút", "en": "Please try again in a few minutes"},
    "slow_body": {
        "vi": "Có quá nhiều yêu cầu từ địa chỉ mạng này.",
        "en": "Too many requests came from this network address.",
    },
    "kiosk_title": {"vi": "Đánh giá nhanh", "en": "Quick rating"},
    "kiosk_intro": {
        "vi": "Xin Ông/Bà cho biết mức độ hài lòng với việc giải quyết thủ tục hôm nay. "
        "Không cần ghi tên.",
        "en": "How satisfied are you with how your procedure was handled today? No name needed.",
    },
    "kind_legend": {"vi": "Ông/Bà là", "en": "You are"},
    "kind_individual": {"vi": "Cá nhân", "en": "An individual"},
    "kind_organisation": {
        "vi": "Đại diện tổ chức, doanh nghiệp",
        "en": "Representing an organisation or business",
    },
    "kiosk_submit": {"vi": "Gửi đánh giá", "en": "Send rating"},
    "kiosk_thanks_title": {"vi": "Cảm ơn Ông/Bà!", "en": "Thank you!"},
    "kiosk_thanks_body": {
        "vi": "Đánh giá của Ông/Bà đã được ghi nhận. Màn hình sẽ trở lại sau ít giây.",
        "en": "Your rating has been recorded. The screen resets in a few seconds.",
    },
    "kiosk_again": {"vi": "Đánh giá mới", "en": "New rating"},
    "kiosk_too_soon_title": {"vi": "Xin chờ giây lát", "en": "Please wait a moment"},
    "kiosk_too_soon_body": {
        "vi": "Vừa có một đánh giá được gửi từ máy này. Xin thử lại sau ít giây.",
        "en": "A rating was just sent from this device. Please try again in a few seconds.",
    },
    "kiosk_unknown_title": {"vi": "Thiết bị chưa được đăng ký", "en": "Device not registered"},
    "kiosk_unknown_body": {
        "vi": "Máy này chưa được đăng ký hoặc đã bị thu hồi. Xin báo cán bộ một cửa.",
        "en": "This device is not registered or was revoked. Please tell the counter staff.",
    },
    "footer": {
        "vi": "Hệ thống đo lường sự hài lòng SIPAS Live. Dữ liệu cá nhân được bảo vệ theo "
        "Luật Bảo vệ dữ liệu cá nhân; câu trả lời chỉ dùng để tính chỉ số hài lòng.",
        "en": "SIPAS Live satisfaction measurement. Personal data is protected by law; "
        "answers are used only to compute satisfaction indices.",
    },
}


def translate(key: str, lang: Lang) -> str:
    """The text of ``key`` in ``lang`` (Vietnamese when no translation exists)."""
    texts = MESSAGES[key]
    return texts.get(lang) or texts["vi"]


def pick_lang(value: str | None) -> Lang:
    """``en`` when asked for, Vietnamese otherwise."""
    return "en" if value == "en" else "vi"
