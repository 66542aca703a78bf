from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("doudi")


login_view = logout_view = household_list = import_view = home
