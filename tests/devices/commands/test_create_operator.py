"""manage.py create_operator: the first staff account."""

import pytest

from .output import run


@pytest.mark.django_db
def test_create_operator_creates_a_staff_superuser_once(django_user_model):
    out = run("create_operator")
    user = django_user_model.objects.get(username="admin")
    assert user.is_staff
    assert user.is_superuser
    password = out.split("Password: ")[1].split()[0]
    assert user.check_password(password)
    again = run("create_operator")
    assert "exists already" in again
    assert "changepassword admin" in again
    assert "Password:" not in again


@pytest.mark.django_db
def test_create_operator_takes_a_username(django_user_model):
    run("create_operator", "--username", "ops")
    assert django_user_model.objects.filter(username="ops", is_staff=True).exists()
