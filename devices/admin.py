"""Django admin (users and groups), branded and linked with the device pages.

Devices live in InfluxDB, not in the database, so they have no ModelAdmin: the admin index
template (templates/admin/index.html) links to the device pages instead.
"""

from django.contrib import admin

admin.site.site_header = "IoT Center administration"
admin.site.site_title = "IoT Center admin"
admin.site.index_title = "Users, groups and devices"
admin.site.site_url = "/devices/"
