"""The staff page's rule form: the model's validation (safe field names, bounded minutes,
ordered bands) as form errors, so nothing hostile reaches a Flux query."""

from django import forms

from .models import Rule


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "name",
            "device_id",
            "condition",
            "field",
            "threshold",
            "high",
            "minutes",
            "severity",
            "enabled",
        ]
