"""The console's words in French (the default) and English, and how a page picks its language.

Order of preference: the language the person chose with the switch (cookie ``cauri_lang``), then the browser's
``Accept-Language``, then French. Templates call ``t("key")`` or ``t("key", n=3)``; an unknown key is an error
(``tests/web/test_i18n.py`` renders every template in both languages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from cauri.core.i18n import Language, negotiate

LANGUAGE_COOKIE = "cauri_lang"

Translate = Callable[..., str]

TEXTS: dict[str, tuple[str, str]] = {
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
    # batch states
    "state.DRAFT": ("Brouillon", "Draft"),
    "state.AWAITING_APPROVAL": ("En attente d'approbation", "Awaiting approval"),
    "state.RESERVED": ("Fonds réservés", "Funds reserved"),
    "state.PROCESSING": ("Paiement en cours", "Paying"),
    "state.COMPLETED": ("Terminé", "Completed"),
    "state.PARTIALLY_COMPLETED": ("Terminé avec des échecs", "Completed with failures"),
    "state.FAILED": ("Échoué", "Failed"),
    "state.CANCELLED": ("Annulé", "Cancelled"),
    "line_state.PENDING": ("À payer", "To pay"),
    "line_state.PROCESSING": ("En cours", "In progress"),
    "line_state.COMPLETED": ("Payé", "Paid"),
    "line_state.FAILED": ("Échec", "Failed"),
    "line_state.CANCELLED": ("Annulé", "Cancelled"),
    # batch list
    "batches.title": ("Paiements groupés", "Bulk payments"),
    "batches.filter_state": ("État", "State"),
    "batches.all_states": ("Tous", "All"),
    "batches.filter": ("Filtrer", "Filter"),
    "batches.file": ("Fichier", "File"),
    "batches.state": ("État", "State"),
    "batches.lines": ("Lignes", "Lines"),
    "batches.amount": ("Montant", "Amount"),
    "batches.created": ("Créé le", "Created"),
    "pager.next": ("Page suivante", "Next page"),
    "pager.first": ("Première page", "First page"),
    # upload
    "upload.title": ("Nouveau paiement groupé", "New bulk payment"),
    "upload.intro": (
        "Chargez la liste des bénéficiaires. Rien n'est payé à cette étape : vous lirez d'abord le rapport.",
        "Upload the list of payees. Nothing is paid at this step: you will read the report first.",
    ),
    "upload.file": ("Fichier (CSV ou Excel .xlsx)", "File (CSV or Excel .xlsx)"),
    "upload.file_hint": (
        "Colonnes « type_id ; valeur_id ; devise ; montant » (et « nom ») ou le format standard.",
        'Columns "type_id; valeur_id; devise; montant" (and "nom") or the standard format.',
    ),
    "upload.provider": ("Opérateur de paiement", "Payment provider"),
    "upload.default": ("par défaut", "default"),
    "upload.check_payees": (
        "Vérifier les bénéficiaires auprès de l'opérateur avant l'approbation",
        "Check payees with the provider before approval",
    ),
    "upload.check_payees_hint": (
        "Chaque numéro est présenté à l'opérateur, qui dit s'il a un compte actif et à quel nom. Rien n'est payé. "
        "Si l'opérateur ne propose pas cette vérification, le lot l'indiquera.",
        "Each number is looked up at the provider, which says whether it has an active account and in whose name. "
        "Nothing is paid. If the provider offers no such check, the batch will say so.",
    ),
    "upload.submit": ("Vérifier le fichier", "Check the file"),
    "upload.busy": ("Vérification…", "Checking…"),
    "upload.refused": ("Pourquoi le fichier est refusé", "Why the file is refused"),
    # one batch
    "batch.title": ("Paiement groupé {name}", "Bulk payment {name}"),
    "batch.back": ("← Paiements groupés", "← Bulk payments"),
    "batch.created_by": ("chargé par {name} le {when}", "uploaded by {name} on {when}"),
    "batch.submitted_by": ("soumis par {name} le {when}", "submitted by {name} on {when}"),
    "batch.approved_by": ("approuvé par {name} le {when}", "approved by {name} on {when}"),
    "batch.total_amount": ("Montant à payer", "Amount to pay"),
    "batch.valid_lines": ("Lignes valides", "Valid lines"),
    "batch.invalid_lines": ("Lignes en erreur", "Lines with errors"),
    "batch.warning_lines": ("Lignes à vérifier", "Lines to review"),
    "batch.action.submit": ("Soumettre les lignes valides", "Submit the valid lines"),
    "batch.action.discard": ("Supprimer le brouillon", "Discard the draft"),
    "batch.action.approve": ("Approuver et payer {amount}", "Approve and pay {amount}"),
    "batch.action.cancel": ("Annuler", "Cancel"),
    "batch.action.stop": ("Arrêter les paiements", "Stop the payments"),
    "batch.action.retry": ("Relancer les lignes en échec", "Retry the failed lines"),
    "batch.action.payee_check": (
        "Vérifier les bénéficiaires auprès de l'opérateur",
        "Check the payees with the provider",
    ),
    "batch.action.payee_recheck": ("Vérifier de nouveau les bénéficiaires", "Check the payees again"),
    "batch.confirm.discard": ("Supprimer ce brouillon ?", "Discard this draft?"),
    "batch.confirm.approve": ("Payer {amount} maintenant ?", "Pay {amount} now?"),
    "batch.confirm.cancel": ("Annuler ce paiement groupé ?", "Cancel this bulk payment?"),
    "batch.confirm.stop": (
        "Arrêter ? Les lignes déjà envoyées se terminent, les autres ne seront pas payées.",
        "Stop? Lines already sent finish, the others will not be paid.",
    ),
    "batch.confirm.retry": ("Relancer les lignes en échec ?", "Retry the failed lines?"),
    "batch.busy": ("Un instant…", "One moment…"),
    "batch.hint.maker_checker": (
        "Votre organisation exige une seconde personne : après soumission, un·e collègue devra approuver.",
        "Your organisation requires a second person: after submission, a colleague must approve.",
    ),
    "batch.hint.available": ("Solde disponible : {amount}", "Available balance: {amount}"),
    "batch.done.uploaded": (
        "Fichier vérifié. Lisez le rapport puis soumettez les lignes valides.",
        "File checked. Read the report, then submit the valid lines.",
    ),
    "batch.done.submitted": ("Lot soumis.", "Batch submitted."),
    "batch.done.approved": ("Lot approuvé : les paiements partent.", "Batch approved: payments are on their way."),
    "batch.done.cancelled": ("Annulation enregistrée.", "Cancellation recorded."),
    "batch.done.retried": ("Les lignes en échec sont relancées.", "The failed lines are being retried."),
    "batch.done.payee_check": (
        "Vérification des bénéficiaires lancée : cette page se met à jour.",
        "Payee check started: this page updates itself.",
    ),
    # the payee check
    "payees.title": ("Vérification des bénéficiaires", "Payee check"),
    "payees.running": (
        "Vérification des bénéficiaires en cours : {checked} sur {total} vérifiés, {flagged} signalés.",
        "Payee check in progress: {checked} of {total} checked, {flagged} flagged.",
    ),
    "payees.done": (
        "Vérification des bénéficiaires : {checked} vérifiés, {flagged} signalés.",
        "Payee check: {checked} checked, {flagged} flagged.",
    ),
    "payees.all_clear": (
        "Tous les numéros ont un compte actif chez l'opérateur.",
        "Every number has an active account at the provider.",
    ),
    "payees.flagged_hint": (
        "Vérifiez les lignes signalées avant d'approuver : un numéro erroné paierait quelqu'un d'autre, ou échouerait.",
        "Check the flagged lines before approving: a wrong number would pay someone else, or fail.",
    ),
    "payees.show_flagged": ("Voir les lignes signalées ({count})", "Show the flagged lines ({count})"),
    "payees.unsupported": (
        "L'opérateur de ce lot ne propose pas la vérification des titulaires de compte : "
        "{count} lignes n'ont pas pu être vérifiées.",
        "This batch's provider offers no account-holder check: {count} lines could not be checked.",
    ),
    "payees.names_hint": (
        "Le nom donné par l'opérateur est affiché sous celui du fichier quand ils diffèrent.",
        "The name the provider gives is shown under the file's name when they differ.",
    ),
    "payees.checkable_hint": (
        "Avant l'approbation, vous pouvez faire vérifier chaque numéro par l'opérateur "
        "(compte actif, nom du titulaire).",
        "Before approval, you can have each number checked by the provider (active account, holder's name).",
    ),
    "batch.progress": ("Avancement", "Progress"),
    "batch.progress_paid": ("payées", "paid"),
    "batch.progress_failed": ("en échec", "failed"),
    "batch.progress_total": ("sur {total} lignes", "of {total} lines"),
    "batch.paid_amount": ("Payé", "Paid"),
    "batch.failed_amount": ("En échec", "Failed"),
    "batch.reserved_amount": ("Encore réservé", "Still reserved"),
    "batch.report": ("Rapport de validation", "Validation report"),
    "batch.report_clean": (
        "Les {lines} lignes du fichier sont valides.",
        "All {lines} lines of the file are valid.",
    ),
    "batch.errors": ("Erreurs ({count} lignes non payables)", "Errors ({count} lines that cannot be paid)"),
    "batch.errors_hint": (
        "Ces lignes ne seront pas payées. Corrigez le fichier et chargez-le de nouveau pour les inclure.",
        "These lines will not be paid. Fix the file and upload it again to include them.",
    ),
    "batch.warnings": ("À vérifier ({count} lignes)", "To review ({count} lines)"),
    "batch.warnings_hint": (
        "Ces lignes sont valides et seront payées : vérifiez-les avant d'approuver.",
        "These lines are valid and will be paid: check them before approving.",
    ),
    "batch.issues_omitted": ("… et {count} autres anomalies.", "… and {count} more issues."),
    "batch.issues_export": ("Télécharger toutes les anomalies (CSV)", "Download every issue (CSV)"),
    "batch.lines": ("Lignes", "Lines"),
    "batch.filter_state": ("État des lignes", "Line state"),
    "batch.all_lines": ("Toutes", "All"),
    "batch.review_only": ("À vérifier seulement", "To review only"),
    "batch.flagged_only": ("Bénéficiaires signalés seulement", "Flagged payees only"),
    "batch.no_lines": ("Aucune ligne.", "No line."),
    "batch.export_csv": ("Exporter les résultats (CSV)", "Export the results (CSV)"),
    "batch.export_xlsx": ("Exporter (Excel)", "Export (Excel)"),
    "line.number": ("Ligne", "Line"),
    "line.payee": ("Bénéficiaire", "Payee"),
    "line.amount": ("Montant", "Amount"),
    "line.state": ("État", "State"),
    "line.review": ("À vérifier", "To review"),
    "line.payee_flag": ("Signalé : {reason}", "Flagged: {reason}"),
    "line.payee_unknown": ("Bénéficiaire inconnu de l'opérateur", "Payee unknown to the provider"),
    "line.payee_inactive": ("Compte inactif ou bloqué chez l'opérateur", "Account inactive or blocked at the provider"),
    "line.payee_unavailable": (
        "Vérification impossible : l'opérateur n'a pas répondu",
        "Could not check: the provider did not answer",
    ),
    "line.provider_name": ("Nom chez l'opérateur : {name}", "Name at the provider: {name}"),
    "issue.line": ("Ligne", "Line"),
    "issue.column": ("Colonne", "Column"),
    "issue.message": ("Problème", "Problem"),
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
