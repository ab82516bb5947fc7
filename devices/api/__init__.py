"""The JSON API (django-ninja): API keys, iot-api-ui's contract, device bootstrap, the schema.

``endpoints`` holds the routes, ``auth`` who may call them (session with CSRF, or an API key
in ``Authorization: Bearer`` or in the path), ``keys`` the key store, ``measurements`` the strict
parser of the one Flux query shape iot-api-ui sends, ``provisioning`` the per-device bootstrap
URL that iot-center-v2's clients take as their ``IOT_CENTER_URL``.
"""
