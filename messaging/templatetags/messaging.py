from django import template

from messaging import selectors, services

register = template.Library()


class PairChat:
    def __init__(self, chat, other):
        self.chat, self.other = chat, other


@register.simple_tag(takes_context=True)
def pair_chat(context, *, client, coach, now):
    """The chat of a session's client and coach for the room's panel, as the viewer (one of
    them) sees it: ``.chat`` is their thread (None until one of them writes; showing it
    reads what waited for the viewer) and ``.other`` the person they write to. The page
    that includes the panel has already checked that the viewer is one of the pair."""
    viewer = context["request"].user
    if viewer.pk not in (client.pk, coach.user_id):
        return None
    other = coach.user if viewer.pk == client.pk else client
    conversation = selectors.conversation_of_pair(client_id=client.pk, coach_id=coach.pk)
    if conversation is None:
        return PairChat(None, other)
    chat = selectors.thread_of(conversation=conversation, viewer=viewer)
    if chat.unread_ids:
        services.conversation_read(conversation=conversation, by=viewer, now=now)
    return PairChat(chat, other)
