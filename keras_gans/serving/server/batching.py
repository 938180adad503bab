"""Request batching with TF Serving's semantics: a shared batch scheduler and batching sessions.

With `--enable_batching`, TF Serving wraps each servable's session in a *batching
session*: concurrent `Run()` calls with the same input and output tensors are queued,
merged along the 0th (batch) dimension into one call of the wrapped session, and the
outputs are split back so each caller gets exactly its own rows. This module is that
machinery, in NumPy only (no TensorFlow), after these sources:

- `tensorflow/core/kernels/batching_util/shared_batch_scheduler.h`: `SharedBatchScheduler`,
  a fixed pool of `num_batch_threads` threads serving many queues round-robin; each
  queue is a deque of batches whose back one is open. A batch closes when it is full
  (`max_execution_batch_size`), when its oldest task has waited `batch_timeout_micros`
  and a thread is free, or when its queue closes. `max_enqueued_batches` bounds a
  queue: beyond it, `Schedule()` fails at once with UNAVAILABLE.
- `tensorflow/core/kernels/batching_util/input_split_metadata.cc`: how a large task is
  split (`enable_large_batch_splitting`): the head fills the open batch, the rest goes
  in full batches, the tail in the last.
- `tensorflow_serving/batching/batching_session.cc`: `BatchingSession`, one queue per
  tensor signature; merging (shape checks, `pad_variable_length_inputs`, padding up to
  `allowed_batch_sizes` with copies of the last task's first row) and splitting (the
  output checks, padding rows dropped).
- `tensorflow_serving/batching/batching_util.{h,cc}`: the batch-size checks, padding,
  `RoundToLowestAllowedBatchSize`, and the monitoring metrics exported here under the
  same names (`BatchingMetrics.prometheus_text`).

Errors are `ServingError`s with TF Serving's codes and messages.

Example:
    scheduler = SharedBatchScheduler(num_batch_threads=2)
    session = BatchingSession(servable.run, scheduler, QueueOptions(max_batch_size=16,
                                                                     batch_timeout_micros=2000))
    outputs = session.run({"z:0": z}, {"images": "images:0"})   # from many threads at once
    scheduler.stats()["mean_batch_size"]
    scheduler.stop()
"""

import bisect
import collections
import dataclasses
import logging
import sys
import threading
import time

import numpy as np

from keras_gans.serving.errors import ServingError

log = logging.getLogger("keras_gans.serving")

_DBL_MAX = sys.float_info.max


def _invalid(message):
    return ServingError("INVALID_ARGUMENT", message)


# ----------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class QueueOptions:
    """The options of one batching queue, with `SharedBatchScheduler::QueueOptions`' defaults.

    Attributes:
        max_batch_size: the largest task a queue accepts (`input_batch_size_limit`; a
            larger one is refused with INVALID_ARGUMENT), and without splitting the
            largest merged batch.
        batch_timeout_micros: how long the oldest task of an open batch waits for
            others before the batch is processed anyway (0: as soon as a thread is free).
        max_enqueued_batches: batches a queue holds (its open batch included) before
            new tasks are refused with UNAVAILABLE.
        enable_large_batch_splitting: split a task that does not fit the open batch
            across several batches (capacity then counts rows, not batches).
        max_execution_batch_size: with splitting, the largest merged batch
            (default `max_batch_size`).
        allowed_batch_sizes: pad a merged batch up to the next of these sizes; the
            last must equal `max_batch_size`.
        pad_variable_length_inputs: pad inputs whose non-batch dimensions differ up to
            the largest, with each tensor's first element; otherwise such tasks fail
            together with FAILED_PRECONDITION.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int = None
    allowed_batch_sizes: tuple = ()
    pad_variable_length_inputs: bool = False

    @property
    def execution_batch_size(self):
        """The largest merged batch (`Queue::GetMaxExecutionBatchSize`)."""
        if self.enable_large_batch_splitting and self.max_execution_batch_size is not None:
            return self.max_execution_batch_size
        return self.max_batch_size

    def validated(self):
        """These options checked as TF Serving checks them when it wraps a session.

        Returns:
            The options to use: `max_enqueued_batches` 0 without splitting becomes 1,
            as `SharedBatchScheduler::AddQueue` rewrites it.

        Raises:
            ServingError: INVALID_ARGUMENT with TF Serving's message
                (`WrapSessionForBatching`, `AddQueueAfterRewritingOptions`).
        """
        options = self
        if self.allowed_batch_sizes and self.allowed_batch_sizes[-1] != self.max_batch_size:
            raise _invalid(
                "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
                f"{self.allowed_batch_sizes[-1]}; expected {self.max_batch_size}"
            )
        if not self.enable_large_batch_splitting and self.max_enqueued_batches == 0:
            options = dataclasses.replace(options, max_enqueued_batches=1)
        if options.max_batch_size <= 0:
            raise _invalid(f"input_batch_size_limit must be positive; was {options.max_batch_size}")
        if options.batch_timeout_micros < 0:
            raise _invalid(f"batch_timeout_micros must be non-negative; was {options.batch_timeout_micros}")
        if options.max_enqueued_batches <= 0:
            raise _invalid(f"max_enqueued_batches must be positive; was {options.max_enqueued_batches}")
        if options.enable_large_batch_splitting:
            if options.max_batch_size < options.execution_batch_size:
                # StrCat of the trailing values, as TF Serving writes them.
                raise _invalid(
                    "When enable_large_batch_splitting is true, input_batch_size_limit must be "
                    "greater than or equal to max_execution_batch_size."
                    f"1{options.max_batch_size}{options.execution_batch_size}"
                )
            if options.execution_batch_size <= 0:
                raise _invalid(
                    f"max_execution_batch_size must be positive; was {options.execution_batch_size}"
                )
        return options


def round_to_allowed_batch_size(allowed_batch_sizes, batch_size):
    """The first allowed size >= `batch_size` (`RoundToLowestAllowedBatchSize`).

    With no allowed sizes, or none large enough, `batch_size` itself.
    """
    for allowed in allowed_batch_sizes:
        if allowed >= batch_size:
            return allowed
    return batch_size


def split_task_sizes(task_size, open_batch_remaining_slot, batch_size_limit):
    """The sizes a task is split into (`InputSplitMetadata`).

    The first part fills the open batch's remaining slots (or a whole batch if it
    has none), the middle ones are whole batches, the last holds the rest.
    """
    if open_batch_remaining_slot > 0:
        from_open_batch = task_size + batch_size_limit - open_batch_remaining_slot
        head = min(open_batch_remaining_slot, task_size)
    else:
        from_open_batch = task_size
        head = min(task_size, batch_size_limit)
    num_batches = -(-from_open_batch // batch_size_limit)
    sizes = [batch_size_limit] * num_batches
    sizes[0] = head
    if task_size <= open_batch_remaining_slot:
        tail = task_size
    else:
        tail = from_open_batch % batch_size_limit or batch_size_limit
    sizes[-1] = tail
    return sizes


def batch_size_of(inputs):
    """The 0th-dimension size shared by every input (`ComputeTensorBatchSize`).

    Raises:
        ServingError: INVALID_ARGUMENT, with the batching session's messages, for no
            inputs, a scalar input or inputs of different 0th-dimension sizes.
    """
    if not inputs:
        raise _invalid("Batching Run() must have at least one input tensor")
    size = None
    for array in inputs.values():
        shape = np.shape(array)
        if not shape:
            raise _invalid("Batching Run() input tensors must have at least one dimension")
        if size is None:
            size = shape[0]
        elif shape[0] != size:
            raise _invalid("Batching Run() input tensors must have equal 0th-dimension size")
    return size


# ----------------------------------------------------------------------------------
# Monitoring (batching_util.h, batching_session.cc, util/prometheus_exporter.cc)
# ----------------------------------------------------------------------------------
def _exponential(scale, growth, count):
    return [scale * growth**i for i in range(count)]


def _number(value):
    """A double as absl::StrCat writes it (six significant digits)."""
    return f"{value:.6g}"


class _Histogram:
    """A TF monitoring Sampler: counts of values below each limit (the last one DBL_MAX)."""

    def __init__(self, name, limits, label=None):
        self.name, self.label = name, label
        self.limits = list(limits) + [_DBL_MAX]
        self.cells = {}  # label value (or None) -> [bucket counts, sum]

    def add(self, value, label_value=None):
        cell = self.cells.setdefault(label_value, [[0] * len(self.limits), 0.0])
        index = bisect.bisect_right(self.limits, value)  # std::upper_bound
        cell[0][min(index, len(self.limits) - 1)] += 1
        cell[1] += value

    def lines(self, prefix):
        name = prefix(self.name)
        out = [f"# TYPE {name} histogram"]
        for label_value, (counts, total) in sorted(self.cells.items(), key=lambda kv: str(kv[0])):
            labels = [] if self.label is None else [f'{self.label}="{_escape(str(label_value))}"']
            bucket = f"{name}_bucket{{" + ",".join(labels) + ("," if labels else "")
            cumulative = 0
            for i, count in enumerate(counts):
                cumulative += count
                limit = _number(self.limits[i]) if i < len(counts) - 1 else "+Inf"
                out.append(f'{bucket}le="{limit}"}} {cumulative}')
            out.append(f"{name}_sum{{{','.join(labels)}}} {_number(total)}")
            out.append(f"{name}_count{{{','.join(labels)}}} {cumulative}")
        return out


def _escape(value):
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _prometheus_name(name):
    """`GetPrometheusMetricName`: every character outside [a-zA-Z0-9_] becomes ':'."""
    import re

    name = re.sub(r"[^a-zA-Z0-9_]", ":", name)
    return "_" + name if name[:1].isdigit() else name


class BatchingMetrics:
    """TF Serving's batching metrics, under its names, for one server.

    - `/tensorflow/serving/batching_session/input_batch_size`: 0th-dimension size of
      each input tensor of each batched request (TF Serving records one value per
      input tensor).
    - `/tensorflow/serving/batching_session/processed_batch_size`: size of each merged
      batch after padding to `allowed_batch_sizes`.
    - `/tensorflow/serving/batching_session/padding_size`: padding rows per batch,
      labelled by `execution_batch_size`.
    - `/tensorflow/serving/batching_session/queuing_latency`: microseconds each task
      waited in its queue, labelled by `thread_pool_name` (empty in TF Serving).
    - `/tensorflow/serving/batching_session/wrapped_run_count`: model calls made.

    Plus one embedded-server metric, `/keras_gans/serving/batching_session/merged_batch_size`:
    the rows each merged batch holds before padding; its `_sum / _count` is the mean
    merged batch size.
    """

    def __init__(self):
        self._lock = threading.Lock()
        sizes = _exponential(1, 2, 14)
        self.input_batch_size = _Histogram("/tensorflow/serving/batching_session/input_batch_size", sizes)
        self.padding_size = _Histogram(
            "/tensorflow/serving/batching_session/padding_size", sizes, label="execution_batch_size"
        )
        self.processed_batch_size = _Histogram("/tensorflow/serving/batching_session/processed_batch_size", sizes)
        self.queuing_latency = _Histogram(
            "/tensorflow/serving/batching_session/queuing_latency", _exponential(100, 1.2, 52), label="thread_pool_name"
        )
        self.merged_batch_size = _Histogram("/keras_gans/serving/batching_session/merged_batch_size", sizes)
        self.wrapped_run_count = 0
        self.num_tasks = 0

    def record_inputs(self, sizes):
        with self._lock:
            for size in sizes:
                self.input_batch_size.add(size)

    def record_batch(self, num_tasks, size, padded_size, queuing_micros):
        with self._lock:
            self.num_tasks += num_tasks
            self.padding_size.add(padded_size - size, str(padded_size))
            self.processed_batch_size.add(padded_size)
            self.merged_batch_size.add(size)
            for micros in queuing_micros:
                self.queuing_latency.add(micros, "")

    def record_run(self):
        with self._lock:
            self.wrapped_run_count += 1

    def stats(self):
        """Totals since the server started, for tests and benchmarks.

        Returns:
            A dict: `batches` (model calls of merged batches), `tasks` (queued tasks,
            a split request counting once per part), `rows` (rows before padding),
            `padded_rows`, `mean_batch_size` (rows per batch, before padding; 0.0
            before the first batch), `wrapped_run_count`.
        """
        with self._lock:
            cell = self.merged_batch_size.cells.get(None)
            padded = self.processed_batch_size.cells.get(None)
            batches = sum(cell[0]) if cell else 0
            rows = int(cell[1]) if cell else 0
            return {
                "batches": batches,
                "tasks": self.num_tasks,
                "rows": rows,
                "padded_rows": int(padded[1]) if padded else 0,
                "mean_batch_size": rows / batches if batches else 0.0,
                "wrapped_run_count": self.wrapped_run_count,
            }

    def prometheus_text(self):
        """The metrics in Prometheus' text format, as TF Serving's exporter writes them."""
        with self._lock:
            lines = []
            histograms = [self.input_batch_size, self.padding_size, self.processed_batch_size, self.queuing_latency]
            for histogram in histograms:
                lines += histogram.lines(_prometheus_name)
            name = _prometheus_name("/tensorflow/serving/batching_session/wrapped_run_count")
            lines.append(f"# TYPE {name} counter")
            lines.append(f"{name}{{}} {self.wrapped_run_count}")
            lines += self.merged_batch_size.lines(_prometheus_name)
            return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------
# Tasks and batches
# ----------------------------------------------------------------------------------
class _Request:
    """One caller's `run()`: its parts (one, or several when split) and their results.

    The caller waits on `_done`, a lock held from the start and released once, by
    the batch thread finishing the last part: the lightest wake-up Python has (an
    `Event` is a condition variable and a lock, plus a new lock per wait).
    """

    def __init__(self, num_parts):
        self._lock = threading.Lock() if num_parts > 1 else None
        self._done = threading.Lock()
        self._done.acquire()
        self._remaining = num_parts
        self._outputs = [None] * num_parts
        self._error = None

    def finish(self, index, outputs=None, error=None):
        if self._lock is None:  # One part: only its batch thread finishes it.
            self._error, self._outputs[0], self._remaining = error, outputs, 0
            self._done.release()
            return
        with self._lock:
            if error is not None and self._error is None:
                self._error = error  # The first error wins (ThreadSafeStatus).
            self._outputs[index] = outputs
            self._remaining -= 1
            done = self._remaining == 0
        if done:
            self._done.release()

    def result(self):
        self._done.acquire()
        if self._error is not None:
            raise ServingError(self._error.code, self._error.message)
        if len(self._outputs) == 1:
            return self._outputs[0]
        return {alias: np.concatenate([part[alias] for part in self._outputs]) for alias in self._outputs[0]}


class _Task:
    __slots__ = ("inputs", "size", "enqueue_time", "request", "index")

    def __init__(self, inputs, size, enqueue_time, request, index=0):
        self.inputs, self.size, self.enqueue_time = inputs, size, enqueue_time
        self.request, self.index = request, index


class _Batch:
    __slots__ = ("tasks", "size")

    def __init__(self):
        self.tasks, self.size = [], 0

    def add(self, task):
        self.tasks.append(task)
        self.size += task.size


class _QueueClosed(Exception):
    """The queue stopped accepting tasks (its servable was unloaded, or the server stopped)."""


class BatchQueue:
    """One queue of a `SharedBatchScheduler` (`internal::Queue`): a deque of batches, the back one open.

    Created by `SharedBatchScheduler.add_queue`; its state is guarded by the
    scheduler's condition variable.
    """

    def __init__(self, scheduler, options, process_batch):
        self._scheduler = scheduler
        self.options = options
        self._process_batch = process_batch
        self._batches = collections.deque([_Batch()])
        self._open_batch_start = 0.0
        self._processing = 0
        self.closed = False

    # -- called by callers, under no lock -------------------------------------------
    def schedule(self, inputs, size):
        """Enqueues a task of `size` rows; returns its `_Request` (wait with `.result()`).

        Raises:
            ServingError: INVALID_ARGUMENT for a task larger than `max_batch_size`,
                UNAVAILABLE when the queue is full (TF Serving's messages).
            _QueueClosed: when the queue no longer accepts tasks.
        """
        cv = self._scheduler._cv
        with cv:
            if self.closed:
                raise _QueueClosed()
            self._check_capacity(size)
            now = time.monotonic()
            limit = self.options.execution_batch_size
            remaining = limit - self._batches[-1].size
            if size <= remaining or not self.options.enable_large_batch_splitting:
                sizes = [size]
            else:
                sizes = split_task_sizes(size, remaining, limit)
            request = _Request(len(sizes))
            start = 0
            # A batch thread is woken only when this task changes what they wait for: a
            # batch ready to process (a full one, or one closed by a new batch), or a new
            # open batch whose timeout they must wait out. A task joining an open batch
            # that is still neither full nor timed out changes nothing; waking every
            # thread on every task would cost each request two thread switches.
            wake = False
            for index, part in enumerate(sizes):
                part_inputs = inputs if len(sizes) == 1 else {
                    name: array[start:start + part] for name, array in inputs.items()
                }
                start += part
                if self._batches[-1].size + part > limit:
                    self._start_new_batch()
                    wake = True
                if not self._batches[-1].tasks:
                    self._open_batch_start = now
                    wake = True
                self._batches[-1].add(_Task(part_inputs, part, now, request, index))
            if wake or self._batches[-1].size >= limit:
                cv.notify_all()
        return request

    def close(self):
        """Stops accepting tasks; the tasks already queued are processed without waiting."""
        cv = self._scheduler._cv
        with cv:
            self.closed = True
            cv.notify_all()

    # -- under the scheduler's lock ---------------------------------------------------
    def _check_capacity(self, size):
        options = self.options
        if size > options.max_batch_size:
            raise _invalid(f"Task size {size} is larger than maximum input batch size {options.max_batch_size}")
        if options.enable_large_batch_splitting:
            capacity = self._scheduling_capacity()
            if size > capacity:
                raise ServingError(
                    "UNAVAILABLE",
                    "The batch scheduling queue to which this task was submitted is full; task size is "
                    f"{size} but scheduling capacity is only {capacity} (num_enqueued_batches="
                    f"{len(self._batches)}, max_enqueued_batches={options.max_enqueued_batches}, "
                    f"open_batch_size={self._batches[-1].size}, max_execution_batch_size="
                    f"{options.execution_batch_size})",
                )
            return
        if self._batches[-1].size + size > options.max_batch_size and len(self._batches) >= options.max_enqueued_batches:
            raise ServingError(
                "UNAVAILABLE",
                "The batch scheduling queue to which this task was submitted is full; currently "
                f"{len(self._batches)} batches enqueued and max_enqueued_batches is {options.max_enqueued_batches}",
            )

    def _scheduling_capacity(self):
        limit = self.options.execution_batch_size
        new_batches = self.options.max_enqueued_batches - len(self._batches)
        return new_batches * limit + (limit - self._batches[-1].size)

    def _start_new_batch(self):
        self._batches.append(_Batch())

    def _open_batch_deadline(self):
        """When the open batch becomes schedulable by timeout (None: empty, or already closed)."""
        if len(self._batches) > 1 or not self._batches[-1].tasks:
            return None
        return self._open_batch_start + self.options.batch_timeout_micros * 1e-6

    def _open_batch_schedulable(self, now):
        open_batch = self._batches[-1]
        if not open_batch.size:
            return False
        return (
            self.closed
            or open_batch.size >= self.options.execution_batch_size
            or now >= self._open_batch_start + self.options.batch_timeout_micros * 1e-6
        )

    def _take_batch(self, now):
        """A closed batch to process now, or None (`Queue::ScheduleBatch`)."""
        if len(self._batches) == 1 and self._open_batch_schedulable(now):
            self._start_new_batch()
        if len(self._batches) < 2:
            return None
        self._processing += 1
        return self._batches.popleft()

    def _is_empty(self):
        return self._processing == 0 and len(self._batches) == 1 and not self._batches[-1].tasks

    # -- in a batch thread, under no lock --------------------------------------------
    def _process(self, batch):
        try:
            self._process_batch(batch.tasks)
        except Exception as e:  # Never leave a caller waiting.
            log.exception("Processing a batch failed")
            error = e if isinstance(e, ServingError) else ServingError("INTERNAL", f"{type(e).__name__}: {e}")
            for task in batch.tasks:
                task.request.finish(task.index, error=error)


# ----------------------------------------------------------------------------------
# The scheduler
# ----------------------------------------------------------------------------------
def max_parallelism():
    """The CPUs this process may run on (`port::MaxParallelism()`, TF's default thread count)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class SharedBatchScheduler:
    """A fixed pool of batch threads serving many `BatchQueue`s round-robin.

    Each thread takes a batch that is ready (closed because full, timed out, or its
    queue closed), processes it, and looks again; with nothing ready it sleeps on a
    condition variable until a task arrives or the next open batch times out. No
    polling.

    Args:
        num_batch_threads: threads processing batches (model calls at once).
        thread_pool_name: the threads' name prefix.
        metrics: a `BatchingMetrics` (a new one by default).

    Raises:
        ServingError: INVALID_ARGUMENT `num_batch_threads must be positive; was <n>`.
    """

    def __init__(self, num_batch_threads=None, thread_pool_name="batch_threads", metrics=None):
        if num_batch_threads is None:
            num_batch_threads = max_parallelism()
        if num_batch_threads < 1:
            raise _invalid(f"num_batch_threads must be positive; was {num_batch_threads}")
        self.num_batch_threads = num_batch_threads
        self.thread_pool_name = thread_pool_name
        self.metrics = metrics if metrics is not None else BatchingMetrics()
        self._cv = threading.Condition(threading.Lock())
        self._queues = []
        self._next = 0
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._thread_logic, name=f"{thread_pool_name}_{i}", daemon=True)
            for i in range(num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def add_queue(self, options, process_batch):
        """A new queue with `options` (validated); `process_batch(tasks)` runs in a batch thread.

        Raises:
            ServingError: INVALID_ARGUMENT for invalid options.
            _QueueClosed: once the scheduler is stopping.
        """
        queue = BatchQueue(self, options.validated(), process_batch)
        with self._cv:
            if self._stopping:
                raise _QueueClosed()
            self._queues.append(queue)
        return queue

    def stats(self):
        """See `BatchingMetrics.stats`."""
        return self.metrics.stats()

    def num_enqueued_tasks(self):
        """Tasks waiting in every queue, not yet taken by a batch thread (`NumEnqueuedTasks`)."""
        with self._cv:
            return sum(len(b.tasks) for q in self._queues for b in q._batches)

    def num_queues(self):
        """Queues still registered (a closed queue is dropped once it is empty)."""
        with self._cv:
            return len(self._queues)

    def stop(self, timeout=30):
        """Closes every queue, lets the threads finish what is queued, and joins them."""
        with self._cv:
            self._stopping = True
            for queue in self._queues:
                queue.closed = True
            self._cv.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- batch threads -----------------------------------------------------------------
    def _next_work(self, now):
        """(queue, batch) to process, trying each queue once from the next in turn."""
        tried = 0
        while tried < len(self._queues):
            index = self._next % len(self._queues)
            queue = self._queues[index]
            was_closed = queue.closed
            batch = queue._take_batch(now)
            if batch is None and was_closed and queue._is_empty():
                del self._queues[index]  # A closed queue with nothing left: dropped.
                self._next = index
                continue
            self._next = index + 1
            if batch is not None:
                return queue, batch
            tried += 1
        return None, None

    def _wait_seconds(self, now):
        deadlines = [d for d in (q._open_batch_deadline() for q in self._queues) if d is not None]
        return max(0.0, min(deadlines) - now) if deadlines else None

    def _thread_logic(self):
        while True:
            with self._cv:
                while True:
                    now = time.monotonic()
                    queue, batch = self._next_work(now)
                    if batch is not None:
                        break
                    if self._stopping and not self._queues:
                        return
                    self._cv.wait(self._wait_seconds(now))
            try:
                queue._process(batch)
            finally:
                with self._cv:
                    queue._processing -= 1
                    if queue.closed and queue._is_empty():
                        self._cv.notify_all()  # Its last batch done: a waiting thread drops it.


# ----------------------------------------------------------------------------------
# The batching session
# ----------------------------------------------------------------------------------
class BatchingSession:
    """Batches the `run(feeds, fetches)` calls of one servable (TF Serving's `BatchingSession`).

    Calls with the same fed tensors and fetched outputs share a queue of `scheduler`;
    a batch thread concatenates their inputs along the 0th dimension, calls `run` once,
    and hands each caller its own rows of every output.

    Args:
        run: `run(feeds, fetches) -> {alias: array}`, feeds `{tensor name: array}`,
            fetches `{alias: tensor name}`; raises `ServingError`.
        scheduler: the `SharedBatchScheduler` whose threads process the batches.
        options: `QueueOptions` of this servable's queues.
    """

    def __init__(self, run, scheduler, options):
        self._run = run
        self._scheduler = scheduler
        self.options = options.validated()
        self._lock = threading.Lock()
        self._queues = {}
        self._closed = False

    def run(self, feeds, fetches):
        """Runs one call, batched with concurrent ones; returns its outputs.

        Raises:
            ServingError: the batching session's input errors, the scheduler's
                refusals, or the (merged) call's error.
        """
        size = batch_size_of(feeds)
        self._scheduler.metrics.record_inputs(np.shape(a)[0] for a in feeds.values())
        if size == 0:
            # An empty task never fills or times out a batch in TF Serving's queue (a
            # batch of 0 rows is never schedulable); run it on its own instead.
            return self._run(feeds, fetches)
        try:
            queue = self._queue_for(feeds, fetches)
            request = queue.schedule(feeds, size)
        except _QueueClosed:
            # The servable was unloaded (or the server is stopping) after this request
            # resolved it: it still gets an answer, unbatched.
            return self._run(feeds, fetches)
        return request.result()

    def close(self):
        """Stops batching: queued calls still complete; later calls run unbatched."""
        with self._lock:
            self._closed = True
            queues, self._queues = list(self._queues.values()), {}
        for queue in queues:
            queue.close()

    def _queue_for(self, feeds, fetches):
        key = (frozenset(feeds), tuple(sorted(fetches.items())))
        with self._lock:
            if self._closed:
                raise _QueueClosed()
            queue = self._queues.get(key)
            if queue is None:
                names = sorted(feeds)
                queue = self._scheduler.add_queue(self.options, lambda tasks: self._process(names, fetches, tasks))
                self._queues[key] = queue
            return queue

    # -- in a batch thread -------------------------------------------------------------
    def _process(self, names, fetches, tasks):
        dequeued = time.monotonic()
        size = sum(task.size for task in tasks)
        padded_size = round_to_allowed_batch_size(self.options.allowed_batch_sizes, size)
        self._scheduler.metrics.record_batch(
            len(tasks), size, padded_size, [(dequeued - t.enqueue_time) * 1e6 for t in tasks]
        )
        try:
            merged = {name: self._merge(name, [t.inputs[name] for t in tasks], padded_size - size) for name in names}
            try:
                outputs = self._run(merged, fetches)
            finally:
                self._scheduler.metrics.record_run()
            parts = self._split(outputs, [t.size for t in tasks], padded_size)
        except ServingError as error:
            for task in tasks:
                task.request.finish(task.index, error=error)
            return
        for task, part in zip(tasks, parts):
            task.request.finish(task.index, outputs=part)

    def _merge(self, name, arrays, padding):
        """`MergeInputTensors` for one input: checked or padded, concatenated, padded rows added."""
        if self.options.pad_variable_length_inputs:
            arrays = _pad_to_largest(arrays)
        else:
            inner = np.shape(arrays[0])[1:]
            if any(np.ndim(a) != len(inner) + 1 or np.shape(a)[1:] != inner for a in arrays[1:]):
                raise ServingError(
                    "FAILED_PRECONDITION",
                    f"Tensors with name '{name}' from different tasks have different shapes and padding is "
                    "turned off. Set pad_variable_length_inputs to true, or ensure that all tensors with "
                    "the same name have equal dimensions starting with the first dim.",
                )
        if padding:
            # The first row of the last task: a valid input row, so safe to pad with.
            arrays = list(arrays) + [np.repeat(arrays[-1][:1], padding, axis=0)]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    @staticmethod
    def _split(outputs, sizes, padded_size):
        """`SplitOutputTensors`: each task's rows of every output; padding rows dropped."""
        bounds = np.cumsum(sizes)[:-1]
        parts = [{} for _ in sizes]
        for alias, value in outputs.items():
            value = np.asarray(value)
            if value.ndim == 0:
                raise ServingError("FAILED_PRECONDITION", "Batched output tensor has 0 dimensions")
            if value.shape[0] != padded_size:
                raise ServingError(
                    "FAILED_PRECONDITION",
                    "Batched output tensor's 0th dimension does not equal the sum of the 0th dimension "
                    "sizes of the input tensors",
                )
            for part, rows in zip(parts, np.split(value[: sum(sizes)], bounds)):
                part[alias] = rows
        return parts


def _pad_to_largest(arrays):
    """`AddPadding` to the largest size of every non-batch dimension, with each tensor's first element."""
    rank = np.ndim(arrays[0])
    if any(np.ndim(a) != rank for a in arrays):
        raise ServingError("FAILED_PRECONDITION", "Tensors of one input have different ranks and cannot be padded")
    largest = tuple(max(np.shape(a)[d] for a in arrays) for d in range(1, rank))
    padded = []
    for array in arrays:
        if np.shape(array)[1:] == largest:
            padded.append(array)
            continue
        if not 1 <= rank <= 6:
            raise _invalid("Only tensors with rank from 1 to 6 can be padded.")
        if array.size < 1:
            raise _invalid("Got empty tensor in batch of non-empty tensors.")
        out = np.full((array.shape[0],) + largest, array.flat[0], dtype=array.dtype)
        out[tuple(slice(0, n) for n in array.shape)] = array
        padded.append(out)
    return padded
