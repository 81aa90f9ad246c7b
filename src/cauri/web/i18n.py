"""The console's words in French (the default) and English, and how a page picks its language.

Order of preference: the language the person chose with the switch (cookie ``cauri_lang``), then the browser's
``Accept-Language``, then French. Templates call ``t("key")`` or ``t("key", n=3)``; an unknown key is an error
(``tests/web/test_i18n.py`` renders every template in both languages). The frame's words are here; each module's
pages bring theirs in ``cauri.<module>.texts.CONSOLE_TEXTS`` (docs/modules.md); the console's own tontine and rentals
pages keep theirs beside them (``web/tontine_texts.py``, ``web/rental_texts.py``, ``web/restaurant_texts.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from cauri.core.i18n import Language, negotiate
from cauri.modules import import_all
from cauri.web.rental_texts import RENTAL_TEXTS
from cauri.web.restaurant_texts import RESTAURANT_TEXTS
from cauri.web.tontine_texts import TONTINE_TEXTS

LANGUAGE_COOKIE = "cauri_lang"

Translate = Callable[..., str]

FRAME_TEXTS: dict[str, tuple[str, str]] = {
    # frame
    "app.name": ("Cauri", "Cauri"),
    "nav.label": ("Menu principal", "Main menu"),
    "nav.skip": ("Aller au contenu", "Skip to content"),
    "nav.dashboard": ("Tableau de bord", "Dashboard"),
    "nav.new_batch": ("Nouveau paiement groupé", "New bulk payment"),
    "nav.batches": ("Paiements groupés", "Bulk payments"),
    "nav.organisation": ("Organisation", "Organisation"),
    "nav.switch_organisation": ("Changer d'organisation", "Switch organisation"),
    "nav.logout": ("Se déconnecter", "Log out"),
    "nav.signed_in_as": ("Connecté·e : {name}", "Signed in: {name}"),
    "lang.switch_label": ("Langue", "Language"),
    "lang.other": ("English", "Français"),
    "lang.other_code": ("en", "fr"),
    # roles
    "role.owner": ("Propriétaire", "Owner"),
    "role.admin": ("Administrateur", "Administrator"),
    "role.gestionnaire": ("Gestionnaire", "Manager"),
    "role.superviseur": ("Superviseur (lecture seule)", "Supervisor (read only)"),
    "role.member": ("Membre", "Member"),
    # login
    "login.title": ("Connexion", "Log in"),
    "login.intro": (
        "Paiements par mobile money : connectez-vous pour continuer.",
        "Mobile-money payments: log in to continue.",
    ),
    "login.identifier": ("E-mail ou téléphone", "E-mail or phone"),
    "login.identifier_hint": ("ex. awa@exemple.sn ou 77 123 45 67", "e.g. awa@example.sn or 77 123 45 67"),
    "login.password": ("Mot de passe", "Password"),
    "login.submit": ("Se connecter", "Log in"),
    "login.logged_out": ("Vous êtes déconnecté·e.", "You are logged out."),
    "login.expired": ("Votre session a expiré. Reconnectez-vous.", "Your session expired. Please log in again."),
    "login.missing": ("Saisissez votre identifiant et votre mot de passe.", "Enter your login and password."),
    # organisations
    "orgs.title": ("Choisir une organisation", "Choose an organisation"),
    "orgs.intro": ("Vous êtes membre de plusieurs organisations.", "You belong to several organisations."),
    "orgs.choose": ("Travailler pour {name}", "Work for {name}"),
    "orgs.current": ("(actuelle)", "(current)"),
    "orgs.none": (
        "Vous n'êtes membre d'aucune organisation. Demandez à un administrateur de vous inviter.",
        "You are not a member of any organisation. Ask an administrator to invite you.",
    ),
    # dashboard
    "dashboard.title": ("Tableau de bord", "Dashboard"),
    "dashboard.hello": ("Bonjour {name}", "Hello {name}"),
    "dashboard.role": ("Votre rôle : {role}", "Your role: {role}"),
    "dashboard.balance": ("Solde du compte d'opérations", "Operating account balance"),
    "dashboard.available": ("Disponible", "Available"),
    "dashboard.reserved": ("Réservé", "Reserved"),
    "dashboard.no_account": (
        "Pas encore de compte d'opérations : il sera créé au premier versement.",
        "No operating account yet: it is created with the first deposit.",
    ),
    "dashboard.recent": ("Derniers paiements groupés", "Recent bulk payments"),
    "dashboard.no_batches": ("Aucun paiement groupé pour l'instant.", "No bulk payment yet."),
    "dashboard.all_batches": ("Tous les paiements groupés", "All bulk payments"),
    "dashboard.read_only": (
        "Votre rôle permet de consulter, pas d'agir.",
        "Your role lets you view, not act.",
    ),
    # paging (any list)
    "pager.next": ("Page suivante", "Next page"),
    "pager.first": ("Première page", "First page"),
    # the payer's return pages of redirect providers (web/return_pages.py)
    "return.done.heading": (
        "Merci, votre paiement est en cours de confirmation",
        "Thank you, your payment is being confirmed",
    ),
    "return.done.body": (
        "Vous avez terminé sur la page de {provider}.",
        "You have finished on {provider}'s page.",
    ),
    "return.failed.heading": ("Le paiement n'a pas abouti", "The payment did not go through"),
    "return.failed.body": (
        "{provider} signale un échec : aucun montant ne devrait avoir été débité. "
        "Vous pouvez réessayer depuis le site du marchand.",
        "{provider} reports a failure: no money should have been taken. You may try again from the merchant's site.",
    ),
    "return.cancelled.heading": ("Paiement annulé", "Payment cancelled"),
    "return.cancelled.body": (
        "Vous avez quitté la page de {provider} sans payer. Vous pouvez réessayer depuis le site du marchand.",
        "You left {provider}'s page without paying. You may try again from the merchant's site.",
    ),
    "return.final_word": (
        "Cette page ne valide aucun paiement : seule la confirmation de {provider} fait foi, "
        "et le marchand est prévenu dès qu'elle arrive.",
        "This page confirms no payment: only {provider}'s confirmation counts, "
        "and the merchant is told as soon as it arrives.",
    ),
    "return.status_label": ("État actuel du paiement :", "Current state of the payment:"),
    "return_status.created": ("en préparation", "being prepared"),
    "return_status.pending": ("en attente de la confirmation", "awaiting confirmation"),
    "return_status.succeeded": ("confirmé", "confirmed"),
    "return_status.failed": ("échoué", "failed"),
    "return_status.expired": ("expiré", "expired"),
    "return_status.cancelled": ("annulé", "cancelled"),
    "return_status.reversed": ("annulé par le fournisseur", "reversed by the provider"),
    "return_status.refunded": ("remboursé", "refunded"),
    "return_status.partially_refunded": ("remboursé en partie", "partly refunded"),
    "return.close": ("Vous pouvez fermer cette page.", "You may close this page."),
    # errors
    "error.title": ("Erreur", "Error"),
    "error.back": ("Retour au tableau de bord", "Back to the dashboard"),
    "error.code": ("Code : {code}", "Code: {code}"),
    "error.not_found": ("Page introuvable.", "Page not found."),
}


def _console_texts() -> dict[str, tuple[str, str]]:
    """The frame's words and those each module lists in ``cauri.<module>.texts.CONSOLE_TEXTS``, so that modules
    built in parallel never edit one shared dictionary; a key two of them define is an error, not a silent win."""
    texts = dict(FRAME_TEXTS)
    pages: list[tuple[str, dict[str, tuple[str, str]]]] = [
        ("cauri.web.tontine_texts", TONTINE_TEXTS),
        ("cauri.web.rental_texts", RENTAL_TEXTS),
        ("cauri.web.restaurant_texts", RESTAURANT_TEXTS),
    ]
    pages += [(module.__name__, module.CONSOLE_TEXTS) for module in import_all("texts")]
    for name, own in pages:
        clashing = sorted(own.keys() & texts.keys())
        if clashing:
            raise RuntimeError(f"{name} redefines console texts: {', '.join(clashing)}")
        texts.update(own)
    return texts


TEXTS = _console_texts()


def translate(language: Language, key: str, **params: Any) -> str:
    french, english = TEXTS[key]
    text = english if language == "en" else french
    return text.format(**params) if params else text


def translator(language: Language) -> Translate:
    def t(key: str, **params: Any) -> str:
        return translate(language, key, **params)

    return t


def page_language(request: Request) -> Language:
    """The chosen language (cookie), else the browser's, else French."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen == "en":
        return "en"
    if chosen == "fr":
        return "fr"
    return negotiate(request.headers.get("accept-language"))
