"""The console's words for the notification pages (the bell, the list, the preferences), French then English.

Gathered by ``cauri.web.i18n`` with every module's ``CONSOLE_TEXTS``. A kind's name in words is
``notif.kind.<kind>`` when a module gives one here; otherwise the page shows the kind's code.
"""

from __future__ import annotations

CONSOLE_TEXTS: dict[str, tuple[str, str]] = {
    "nav.notifications": ("Notifications", "Notifications"),
    "notif.bell": ("Notifications, {count} non lue(s)", "Notifications, {count} unread"),
    "notif.title": ("Notifications", "Notifications"),
    "notif.filter_all": ("Toutes", "All"),
    "notif.filter_unread": ("Non lues", "Unread"),
    "notif.unread_count": ("{count} non lue(s)", "{count} unread"),
    "notif.none": ("Aucune notification.", "No notifications."),
    "notif.none_unread": ("Aucune notification non lue.", "No unread notifications."),
    "notif.mark_read": ("Marquer comme lue", "Mark as read"),
    "notif.mark_all_read": ("Tout marquer comme lu", "Mark all as read"),
    "notif.unread": ("Non lue", "Unread"),
    "notif.marked": ("{count} notification(s) marquée(s) comme lue(s).", "{count} notification(s) marked as read."),
    "notif.new_arrived": (
        "Nouvelle notification : rechargez la page pour la voir.",
        "New notification: reload the page to see it.",
    ),
    "notif.preferences_link": ("Mes préférences de notification", "My notification preferences"),
    "prefs.title": ("Préférences de notification", "Notification preferences"),
    "prefs.intro": (
        "Choisissez, pour chaque type de message, par quel canal vous le recevez.",
        "Choose, for each kind of message, the channels you receive it on.",
    ),
    "prefs.kind": ("Type de message", "Kind of message"),
    "prefs.locked": ("Obligatoire : ne peut pas être désactivé", "Required: cannot be turned off"),
    "prefs.urgent": ("Urgent : envoyé même pendant les heures calmes", "Urgent: sent even during quiet hours"),
    "prefs.quiet_title": ("Heures calmes", "Quiet hours"),
    "prefs.quiet_intro": (
        "Pendant ces heures, les messages non urgents attendent la fin de la période.",
        "During these hours, messages that are not urgent wait until the period ends.",
    ),
    "prefs.quiet_on": ("Activer les heures calmes", "Turn quiet hours on"),
    "prefs.quiet_start": ("Début", "Start"),
    "prefs.quiet_end": ("Fin", "End"),
    "prefs.timezone": ("Fuseau horaire : {zone}", "Time zone: {zone}"),
    "prefs.save": ("Enregistrer", "Save"),
    "prefs.saved": ("Préférences enregistrées.", "Preferences saved."),
    "prefs.bad_time": (
        "Heure invalide : utilisez le format HH:MM (par exemple 22:00).",
        "Invalid time: use the HH:MM format (for example 22:00).",
    ),
    "notif_channel.email": ("E-mail", "E-mail"),
    "notif_channel.sms": ("SMS", "SMS"),
    "notif_channel.in_app": ("Dans l'application", "In the app"),
    "notif_channel.push": ("Notification push", "Push notification"),
    "notif.kind.auth.code": ("Codes de sécurité", "Security codes"),
    "notif.kind.bulk.completed": ("Fin d'un paiement groupé", "Bulk payment finished"),
}
