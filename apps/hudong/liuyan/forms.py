from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator

from liuyan.models import Question

REQUIRED = "请填写此项。"


class QuestionForm(forms.ModelForm):
    """What a citizen submits: name, contact (optional), title, body (at most HUDONG_MAX_CHARS)."""

    class Meta:
        model = Question
        fields = ["name", "contact", "title", "body"]
        error_messages = {
            "name": {"required": REQUIRED, "max_length": "姓名不得超过 %(limit_value)d 字。"},
            "contact": {"max_length": "联系方式不得超过 %(limit_value)d 字。"},
            "title": {"required": REQUIRED, "max_length": "标题不得超过 %(limit_value)d 字。"},
            "body": {"required": REQUIRED},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.HUDONG_MAX_CHARS
        body = self.fields["body"]
        body.max_length = limit
        body.widget.attrs["maxlength"] = str(limit)
        body.validators.append(MaxLengthValidator(
            limit, message=f"留言内容不得超过 {limit} 字（您提交了 %(show_value)d 字），请删减后再提交。"))


class AnswerForm(forms.Form):
    answer = forms.CharField(label="答复", widget=forms.Textarea, max_length=10000,
                             error_messages={"required": REQUIRED})
