/* test-worker.c — tb_worker: post order, call_sync, shutdown.
 *
 * The test's main thread drives workers; tasks record what thread they ran
 * on. State shared with a worker is only read after call_sync or free, which
 * order the accesses.
 */
#include "common.h"

#include <string.h>

typedef struct {
	tb_worker *worker;
	GArray *order;       /* task indexes in run order */
	GThread *ran_on;     /* thread of the last task */
	GThread *destroy_on; /* thread of the last destroy notify */
	int destroyed;
	gboolean was_thread_default;
} worker_state;

typedef struct {
	worker_state *state;
	int index;
} task_data;

static gboolean record_task(gpointer user_data)
{
	task_data *task = user_data;

	g_array_append_val(task->state->order, task->index);
	task->state->ran_on = g_thread_self();
	task->state->was_thread_default =
		g_main_context_get_thread_default() == tb_worker_context(task->state->worker);
	/* Must still run only once. */
	return G_SOURCE_CONTINUE;
}

static void destroy_task(gpointer user_data)
{
	task_data *task = user_data;

	task->state->destroyed++;
	task->state->destroy_on = g_thread_self();
	g_free(task);
}

static void post_index(worker_state *state, int index)
{
	task_data *task = g_new(task_data, 1);

	task->state = state;
	task->index = index;
	tb_worker_post(state->worker, record_task, task, destroy_task);
}

static gboolean note_thread(gpointer user_data)
{
	GThread **thread = user_data;

	*thread = g_thread_self();
	return G_SOURCE_REMOVE;
}

static void test_post_order(void)
{
	worker_state state = {0};
	GThread *sync_thread = NULL;
	const int n = 1000;

	state.order = g_array_new(FALSE, FALSE, sizeof(int));
	state.worker = tb_worker_new("test-order");
	g_assert_cmpstr(tb_worker_name(state.worker), ==, "test-order");
	g_assert_nonnull(tb_worker_context(state.worker));

	for (int i = 0; i < n; i++)
		post_index(&state, i);
	/* call_sync is queued behind the posts, so it acts as a barrier. */
	tb_worker_call_sync(state.worker, note_thread, &sync_thread);

	g_assert_cmpuint(state.order->len, ==, n);
	for (int i = 0; i < n; i++)
		g_assert_cmpint(g_array_index(state.order, int, i), ==, i);
	g_assert_cmpint(state.destroyed, ==, n);
	g_assert_true(state.ran_on == sync_thread);
	g_assert_true(state.destroy_on == sync_thread);
	g_assert_true(sync_thread != g_thread_self());
	g_assert_true(state.was_thread_default);

	tb_worker_free(state.worker);
	g_array_unref(state.order);
}

typedef struct {
	int value;
	GThread *thread;
} sync_data;

static gboolean slow_increment(gpointer user_data)
{
	sync_data *data = user_data;

	g_usleep(20 * 1000);
	data->value++;
	data->thread = g_thread_self();
	return G_SOURCE_REMOVE;
}

static void test_call_sync(void)
{
	tb_worker *worker = tb_worker_new("test-sync");
	sync_data data = {0};

	for (int i = 1; i <= 5; i++) {
		tb_worker_call_sync(worker, slow_increment, &data);
		/* Returned only after FN ran. */
		g_assert_cmpint(data.value, ==, i);
	}
	g_assert_nonnull(data.thread);
	g_assert_true(data.thread != g_thread_self());
	tb_worker_free(worker);
}

typedef struct {
	tb_worker *worker;
	int calls;
} nested_data;

static gboolean nested_call(gpointer user_data)
{
	nested_data *data = user_data;
	sync_data inner = {0};

	/* A task on one worker may wait on another. */
	tb_worker_call_sync(data->worker, slow_increment, &inner);
	data->calls += inner.value;
	return G_SOURCE_REMOVE;
}

static void test_call_sync_across_workers(void)
{
	tb_worker *a = tb_worker_new("test-a"), *b = tb_worker_new("test-b");
	nested_data data = {.worker = b};

	tb_worker_call_sync(a, nested_call, &data);
	g_assert_cmpint(data.calls, ==, 1);
	tb_worker_free(a);
	tb_worker_free(b);
}

static gboolean slow_task(gpointer user_data)
{
	int *count = user_data;

	g_usleep(2 * 1000);
	g_atomic_int_inc(count);
	return G_SOURCE_REMOVE;
}

static void count_destroy(gpointer user_data)
{
	int *count = user_data;

	g_atomic_int_add(count, 1000);
}

static void test_free_runs_pending(void)
{
	tb_worker *worker = tb_worker_new("test-free");
	int count = 0;

	for (int i = 0; i < 50; i++)
		tb_worker_post(worker, slow_task, &count, count_destroy);
	/* Returns only after all 50 tasks ran and were destroyed. */
	tb_worker_free(worker);
	g_assert_cmpint(count, ==, 50 * 1001);

	tb_worker_free(NULL);
}

#define POSTERS    4
#define POSTS_EACH 250

typedef struct {
	tb_worker *worker;
	int last_seq[POSTERS]; /* touched on the worker thread only */
	int out_of_order;
	int ran;
} posters_state;

typedef struct {
	posters_state *state;
	int poster, seq;
} poster_task;

static gboolean check_poster_order(gpointer user_data)
{
	poster_task *task = user_data;
	posters_state *state = task->state;

	if (task->seq != state->last_seq[task->poster] + 1)
		state->out_of_order++;
	state->last_seq[task->poster] = task->seq;
	state->ran++;
	return G_SOURCE_REMOVE;
}

typedef struct {
	posters_state *state;
	int poster;
} poster_thread_data;

static gpointer poster_main(gpointer user_data)
{
	poster_thread_data *data = user_data;

	for (int seq = 0; seq < POSTS_EACH; seq++) {
		poster_task *task = g_new(poster_task, 1);

		task->state = data->state;
		task->poster = data->poster;
		task->seq = seq;
		tb_worker_post(data->state->worker, check_poster_order, task, g_free);
	}
	return NULL;
}

static void test_many_posters(void)
{
	posters_state state = {0};
	poster_thread_data data[POSTERS];
	GThread *threads[POSTERS];

	state.worker = tb_worker_new("test-many");
	for (int i = 0; i < POSTERS; i++) {
		state.last_seq[i] = -1;
		data[i].state = &state;
		data[i].poster = i;
		threads[i] = g_thread_new("poster", poster_main, &data[i]);
	}
	for (int i = 0; i < POSTERS; i++)
		g_thread_join(threads[i]);
	tb_worker_free(state.worker);
	/* Each poster's tasks ran in its own posting order. */
	g_assert_cmpint(state.ran, ==, POSTERS * POSTS_EACH);
	g_assert_cmpint(state.out_of_order, ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/worker/post-order", test_post_order);
	g_test_add_func("/worker/call-sync", test_call_sync);
	g_test_add_func("/worker/call-sync-across-workers", test_call_sync_across_workers);
	g_test_add_func("/worker/free-runs-pending", test_free_runs_pending);
	g_test_add_func("/worker/many-posters", test_many_posters);
	return g_test_run();
}
