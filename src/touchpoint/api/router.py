"""/api/v1: the public REST API, authenticated with per-workspace API keys (see deps.ApiWorkspace).

Every route answers errors as {"error": {"code", "message", "details"?}} with a stable code.
"""

from fastapi import APIRouter

from touchpoint.api import canned, contacts, conversations, messages
from touchpoint.api.schemas import error_responses
from touchpoint.assistant.intents import api as assistant_intents
from touchpoint.assistant.knowledge import api as knowledge
from touchpoint.assistant.policy import api as assistant_policy

router = APIRouter(prefix="/api/v1", responses=error_responses(401, 413, 422))
router.include_router(contacts.router)
router.include_router(conversations.router)
router.include_router(messages.router)
router.include_router(knowledge.router)
router.include_router(canned.router)
router.include_router(assistant_policy.router)
router.include_router(assistant_intents.router)
