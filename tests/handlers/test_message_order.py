"""A session's messages list in the order they were stored, whichever process stored them.

The server stores a user message and a worker its reply, often within the same second: ObjectIds made
in different processes then order by each process's random bytes, not by time.
"""

import time

from bson import ObjectId

from handlers.services import Services
from handlers.services.database.chat import MessageKind


def test_a_reply_and_the_next_message_list_after_an_id_made_elsewhere(services: Services) -> None:
    chat = services.db.chat
    session = chat.create_session("acme")
    stored = chat.add_user_message(session, "Where is my order?", suggestion_mode=False)
    # The same message as another process (or one whose clock is a second ahead) would have stored it.
    elsewhere = ObjectId((int(time.time()) + 1).to_bytes(4, "big") + b"\xff" * 8)
    chat.messages.delete_one({"_id": stored["_id"]})
    message = {**stored, "_id": elsewhere}
    chat.messages.insert_one(message)

    reply, _ = chat.save_assistant(message, MessageKind.REPLY, "It ships tomorrow.", [])
    follow_up = chat.add_user_message(session, "Thanks!", suggestion_mode=False)

    listed = [m["content"] for m in chat.list_messages(session["_id"], 20)]
    assert listed == ["Where is my order?", "It ships tomorrow.", "Thanks!"]
    assert [m["_id"] for m in chat.session_context(follow_up, 20)] == [elsewhere, reply["_id"]]
