"""The demo workspace's conversation stories (src/touchpoint/demo_data/stories.yaml) through the real path:
trained model, policy, knowledge base, flows calling the demo brand's system, hand-offs."""

from __future__ import annotations

from tests.support.harness import running
from touchpoint.assistant.stories import parse_stories
from touchpoint.assistant.training_worker import TrainingWorker
from touchpoint.demo_data import DATA
from touchpoint.story_runner import run_stories


async def test_every_demo_story_passes(settings, encoder):
    stories = parse_stories((DATA / "stories.yaml").read_text(encoding="utf-8"))
    async with running(settings) as h:
        assert await TrainingWorker(h.runtime, "stories-test").run_once() == 1  # the demo asked for one
        outcomes = await run_stories(h.runtime, h.workspace_id, stories)
    failures = [f"{o.name}: line {s.line} {s.customer!r}: {p}" for o in outcomes for s in o.steps for p in s.problems]
    assert failures == []
    assert len(outcomes) == len(stories) >= 10
