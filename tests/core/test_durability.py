"""A submission acknowledged before the process is killed with SIGKILL is there after restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid

from sqlalchemy import select

from core.models import Message
from core.service import Chorus
from tests.conftest import make_settings

WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from core.config import load_settings
    from core.service import Chorus

    async def main():
        core = Chorus.open_on(load_settings({"CHORUS_DATABASE_URL": sys.argv[1]}, dotenv=None))
        user = await core.user_from_identity("console", "writer", display_name="writer")
        for i in range(1000):
            task = await core.request_task(user.id, type="initial_prompt", resume=False)
            res = await core.submit_reply(user.id, task.id, f"prompt number {i}")
            print(res.created_message_id, flush=True)  # acknowledged: the person was told it is saved
            if i == 2:
                print("ready", flush=True)
            await asyncio.sleep(0)

    asyncio.run(main())
    """
)


async def test_acknowledged_submissions_survive_sigkill(db_url, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "CHORUS_TASK_MAX_PENDING_PER_USER": "2000"}
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), db_url, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    acked: list[uuid.UUID] = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        if not line:
            raise AssertionError((await proc.stderr.read()).decode()[-2000:])
        if line == "ready":
            break
        acked.append(uuid.UUID(line))
    # Kill mid-stream: whatever was acknowledged up to the kill must be stored.
    for _ in range(5):
        line = (await proc.stdout.readline()).decode().strip()
        if line:
            acked.append(uuid.UUID(line))
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    core = Chorus.open_on(make_settings(db_url))
    try:
        async with core.db.read() as s:
            stored = set((await s.scalars(select(Message.id))).all())
        assert set(acked) <= stored
        assert len(acked) >= 3
    finally:
        await core.close()
