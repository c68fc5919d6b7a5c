from django.contrib import admin

from .models import Comment, Topic


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ["author", "text", "created", "updated"]
    readonly_fields = ["created", "updated"]
    autocomplete_fields = ["author"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "is_private", "created"]
    list_display_links = ["id", "title"]
    list_filter = ["is_private", "created"]
    list_select_related = ["owner"]
    search_fields = ["title", "owner__username"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "created"
    inlines = [CommentInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "short_text", "topic", "author", "created", "updated"]
    list_filter = ["topic__is_private", "created"]
    list_select_related = ["topic", "author"]
    search_fields = ["text", "topic__title", "author__username"]
    autocomplete_fields = ["topic", "author"]
    date_hierarchy = "created"

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text if len(obj.text) <= 60 else f"{obj.text[:59]}…"
