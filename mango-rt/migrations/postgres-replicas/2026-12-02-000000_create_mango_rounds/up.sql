-- The calls of 2026-07-28's rounds (MRTR), shared by every replica that signs request
-- states with the same `[input] key`: a call's state is accepted by any replica, and
-- cannot be replayed on any of them once the call completed, nor run twice at once.
CREATE TABLE IF NOT EXISTS mango_rounds (
    call TEXT PRIMARY KEY,
    -- Until when (ms since the epoch) the replica running a round holds the call; NULL
    -- when no round runs. The replica renews it while the round runs; a replica that
    -- dies lets it lapse.
    running_until_ms BIGINT,
    completed BOOLEAN NOT NULL DEFAULT FALSE,
    -- When the call's last state expires: the row is useless after it.
    expires_ms BIGINT NOT NULL
);
