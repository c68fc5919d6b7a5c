from django.contrib import admin

from .models import Folder, Note

admin.site.register(Folder)
admin.site.register(Note)
