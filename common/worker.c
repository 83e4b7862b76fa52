/* worker.c — a thread running a GMainLoop on its own GMainContext.
 *
 * Media and catalog code live on workers: everything a worker owns is touched
 * only from its thread, and other threads reach it by posting a task (an
 * idle GSource attached to the worker's context, with a destroy notify).
 * tb_worker_new/free run on the owning thread (usually main); post and
 * call_sync may run on any other thread.
 *
 * This file does not schedule work across workers or know what runs on them.
 */
#include "common.h"

struct tb_worker {
	char *name;
	GMainContext *context;
	GMainLoop *loop;
	GThread *thread;
};

typedef struct {
	GSourceFunc fn;
	gpointer data;
	GDestroyNotify destroy;
} worker_task;

typedef struct {
	GSourceFunc fn;
	gpointer data;
	GMutex lock; /* guards done; the only lock here */
	GCond cond;
	bool done;
} sync_call;

static gpointer worker_main(gpointer user_data)
{
	tb_worker *worker = user_data;

	/* GLib and libraries that use the thread-default context (GIO, libnice)
	 * then attach their sources to this worker. */
	g_main_context_push_thread_default(worker->context);
	g_main_loop_run(worker->loop);
	g_main_context_pop_thread_default(worker->context);
	return NULL;
}

tb_worker *tb_worker_new(const char *name)
{
	tb_worker *worker = g_new0(tb_worker, 1);

	worker->name = g_strdup(name ? name : "worker");
	worker->context = g_main_context_new();
	worker->loop = g_main_loop_new(worker->context, FALSE);
	worker->thread = g_thread_new(worker->name, worker_main, worker);
	return worker;
}

GMainContext *tb_worker_context(tb_worker *worker)
{
	g_return_val_if_fail(worker != NULL, NULL);
	return worker->context;
}

const char *tb_worker_name(tb_worker *worker)
{
	g_return_val_if_fail(worker != NULL, NULL);
	return worker->name;
}

static gboolean task_run(gpointer user_data)
{
	worker_task *task = user_data;

	task->fn(task->data);
	return G_SOURCE_REMOVE; /* once, whatever FN returned */
}

static void task_free(gpointer user_data)
{
	worker_task *task = user_data;

	if (task->destroy)
		task->destroy(task->data);
	g_free(task);
}

void tb_worker_post(tb_worker *worker, GSourceFunc fn, gpointer data, GDestroyNotify destroy)
{
	worker_task *task;
	GSource *source;

	g_return_if_fail(worker != NULL && fn != NULL);

	task = g_new(worker_task, 1);
	task->fn = fn;
	task->data = data;
	task->destroy = destroy;

	/* Sources of equal priority dispatch in attach order, so tasks run in
	 * the order they were posted. Default priority keeps them from waiting
	 * behind idle work. */
	source = g_idle_source_new();
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_static_name(source, "tb_worker_post");
	g_source_set_callback(source, task_run, task, task_free);
	g_source_attach(source, worker->context);
	g_source_unref(source);
}

static gboolean sync_call_run(gpointer user_data)
{
	sync_call *call = user_data;

	call->fn(call->data);
	g_mutex_lock(&call->lock);
	call->done = true;
	g_cond_signal(&call->cond);
	g_mutex_unlock(&call->lock);
	/* CALL lives on the waiter's stack: do not touch it past here. */
	return G_SOURCE_REMOVE;
}

void tb_worker_call_sync(tb_worker *worker, GSourceFunc fn, gpointer data)
{
	sync_call call = {.fn = fn, .data = data, .done = false};

	g_return_if_fail(worker != NULL && fn != NULL);
	/* The running loop owns the context: waiting here would deadlock. */
	g_return_if_fail(!g_main_context_is_owner(worker->context));

	g_mutex_init(&call.lock);
	g_cond_init(&call.cond);
	tb_worker_post(worker, sync_call_run, &call, NULL);
	g_mutex_lock(&call.lock);
	while (!call.done)
		g_cond_wait(&call.cond, &call.lock);
	g_mutex_unlock(&call.lock);
	g_cond_clear(&call.cond);
	g_mutex_clear(&call.lock);
}

static gboolean quit_run(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

void tb_worker_free(tb_worker *worker)
{
	if (worker == NULL)
		return;
	g_return_if_fail(!g_main_context_is_owner(worker->context));

	/* Queued behind every task already posted, so those run first. */
	tb_worker_post(worker, quit_run, worker->loop, NULL);
	g_thread_join(worker->thread);

	/* Sources still attached (timers, tasks posted during shutdown) are
	 * destroyed with the context, on this thread. */
	g_main_loop_unref(worker->loop);
	g_main_context_unref(worker->context);
	g_free(worker->name);
	g_free(worker);
}
