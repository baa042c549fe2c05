"""Console logging from a thread of its own, so that a slow log stream never stops the event loop."""

from __future__ import annotations

import logging
import logging.handlers
import queue


class LogWriter:
    """Log lines are written by a thread, not by the event loop. A write to a log file or a pipe can block
    (a slow disk flushing dirty pages, a reader that is behind) and the loop would stop with it: on a busy
    machine, stack samples of the loop's stalls found it inside `StreamHandler.emit` more than anywhere
    else. Records are formatted where they are logged (QueueHandler.prepare) and written in order by one
    thread; stopping flushes them. Only plain StreamHandlers (the console and uvicorn's) are moved:
    handlers of other kinds (files, test capture) keep their own behaviour."""

    def __init__(self, moved: list[tuple[logging.Logger, logging.Handler, logging.Handler]],
                 listener: logging.handlers.QueueListener | None) -> None:
        self.moved = moved
        self.listener = listener

    @classmethod
    def start(cls) -> LogWriter:
        lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        moved: list[tuple[logging.Logger, logging.Handler, logging.Handler]] = []
        handlers: list[logging.Handler] = []
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if type(handler) is not logging.StreamHandler:
                    continue
                proxy = logging.handlers.QueueHandler(lines)
                proxy.setLevel(handler.level)
                proxy.setFormatter(handler.formatter)  # formatted as before, in the caller
                proxy.filters = list(handler.filters)
                index = logger.handlers.index(handler)
                logger.handlers[index] = proxy
                moved.append((logger, handler, proxy))
                handlers.append(_Writer(handler))
        if not moved:
            return cls([], None)
        listener = logging.handlers.QueueListener(lines, *handlers, respect_handler_level=False)
        listener.start()
        return cls(moved, listener)

    def stop(self) -> None:
        for logger, handler, proxy in self.moved:
            if proxy in logger.handlers:
                logger.handlers[logger.handlers.index(proxy)] = handler
        if self.listener is not None:
            self.listener.stop()  # writes what is queued, then joins the thread
            self.listener = None


class _Writer(logging.Handler):
    """Writes a record that QueueHandler already formatted (its message is the finished line) through the
    original handler's stream, without formatting it a second time."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        target = self.target
        assert isinstance(target, logging.StreamHandler)
        try:
            target.acquire()
            try:
                target.stream.write(record.getMessage() + target.terminator)
                target.flush()
            finally:
                target.release()
        except Exception:
            self.handleError(record)
