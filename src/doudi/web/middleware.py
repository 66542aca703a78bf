"""Chinese first: the UI is Simplified Chinese unless the user chose English with the language switch.

Django's LocaleMiddleware follows the browser's Accept-Language; county intranet machines often run
English-language browsers, and the bureau's working language is Chinese, so only the explicit choice
(the language cookie set by /i18n/setlang/) changes it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
