"""Forms for the device pages: they check input before the service is called."""

from django import forms

# The service's own id rules, so a bad id is a form error before any request is made.
from .ids import DEVICE_ID_RULES, RESERVED_DEVICE_IDS, validate_device_id


class RegisterForm(forms.Form):
    device_id = forms.CharField(
        label="Device id",
        required=False,
        strip=True,
        max_length=64,
        help_text=f"{DEVICE_ID_RULES}; leave empty to generate one.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    MISSING = (
        "The request carried no device id field, so nothing was registered. Use the form: "
        "an empty device id there generates one."
    )

    @property
    def field_missing(self) -> bool:
        """A POST without the field at all (a JSON or garbage body, a broken upload) is not
        the form's "leave empty to generate one": it must never register a random id."""
        return self.is_bound and "device_id" not in self.data

    def clean_device_id(self) -> str:
        if self.field_missing:
            raise forms.ValidationError(self.MISSING)
        value = self.cleaned_data["device_id"]
        if value:
            try:
                validate_device_id(value)
            except ValueError:
                # Not echoed back: the message says what ids may be instead.
                if value in RESERVED_DEVICE_IDS:
                    raise forms.ValidationError(
                        f"“{value}” is reserved (its pages could not be opened): choose another id."
                    ) from None
                raise forms.ValidationError(
                    f"Not a valid device id: use {DEVICE_ID_RULES}."
                ) from None
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

    def search_and_page(self) -> tuple[str, int]:
        """The search text and page number, each on its own: a bad page number (``?page=x``)
        falls back to page 1 without dropping the search, and the other way round."""
        self.is_valid()
        return self.cleaned_data.get("q") or "", self.cleaned_data.get("page") or 1
