"""Forms for the device pages: they check input before the service is called."""

import re

from django import forms

# Mirrors the service's id rules so a bad id is a form error, not a failed request.
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
DEVICE_ID_HELP = "1–64 characters: letters, digits, and _ - . : (leave empty to generate one)."


class RegisterForm(forms.Form):
    device_id = forms.CharField(
        label="Device id",
        required=False,
        strip=True,
        max_length=64,
        help_text=DEVICE_ID_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_device_id(self) -> str:
        value = self.cleaned_data["device_id"]
        if value and not DEVICE_ID_RE.fullmatch(value):
            raise forms.ValidationError(
                "Use 1–64 characters: letters, digits, and _ - . : only.", code="invalid"
            )
        return value


class RemoveForm(forms.Form):
    delete_telemetry = forms.BooleanField(
        label="Also delete its telemetry",
        required=False,
        help_text="Without this, the device's measurements stay in the telemetry bucket.",
    )


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=64, strip=True)
    page = forms.IntegerField(required=False, min_value=1)
