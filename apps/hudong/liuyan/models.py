from django.db import models


class Question(models.Model):
    """A citizen's question (留言) and the city's answer (答复); public once answered."""

    name = models.CharField("姓名", max_length=50)
    contact = models.CharField("联系方式", max_length=100, blank=True)
    title = models.CharField("标题", max_length=100)
    body = models.TextField("内容")
    address = models.GenericIPAddressField("提交地址")
    created = models.DateTimeField("提交时间", auto_now_add=True, db_index=True)
    answer = models.TextField("答复", blank=True)
    answered_at = models.DateTimeField("答复时间", null=True, blank=True, db_index=True)
    answered_by = models.CharField("答复人", max_length=150, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["address", "created"])]

    def __str__(self):
        return self.title
