/* library-attendance.c — who attended a session and how they took part
 * (GET /api/sessions/ID/attendance), on the library thread.
 *
 * Per user (a user who rejoined has several attendance rows): time present,
 * time heard as the active speaker, hands raised, reading turns, and
 * "silent" when the user was present but never heard for a second: the
 * "ghosts" a school wants to spot. Engagement is about people, so only the
 * session's mentors, curators and admins may read it.
 */
#include "library-private.h"

/* Heard for less than this: silent. */
#define SILENT_BELOW_MS 1000

static json_t *person_row(sqlite3_stmt *s)
{
	int64_t present = sqlite3_column_int64(s, 3), speaking = sqlite3_column_int64(s, 4);

	return json_pack("{s:o, s:o, s:o, s:I, s:I, s:f, s:I, s:I, s:I, s:b}", "user",
			 tb__library_col_json_text(s, 0), "name", tb__library_col_json_text(s, 1),
			 "role", tb__library_col_json_text(s, 2), "present_ms", (json_int_t)present,
			 "speaking_ms", (json_int_t)speaking, "speaking_share",
			 present > 0 ? (double)speaking / (double)present : 0.0, "hands_raised",
			 (json_int_t)sqlite3_column_int64(s, 5), "reading_turns",
			 (json_int_t)sqlite3_column_int64(s, 6), "joins",
			 (json_int_t)sqlite3_column_int64(s, 7), "silent",
			 speaking < SILENT_BELOW_MS);
}

static json_t *visit_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "participant_id",
			 tb__library_col_json_text(s, 0), "user", tb__library_col_json_text(s, 1),
			 "role", tb__library_col_json_text(s, 2), "joined_ms",
			 tb__library_col_json_int(s, 3), "left_ms", tb__library_col_json_int(s, 4),
			 "leave_reason", tb__library_col_json_text(s, 5), "speaking_ms",
			 tb__library_col_json_int(s, 6), "hands_raised",
			 tb__library_col_json_int(s, 7), "reading_turns",
			 tb__library_col_json_int(s, 8), "name", tb__library_col_json_text(s, 9));
}

/* True if T's viewer may read the attendance of session T->id: curators
 * and admins, and the mentors who attended it; else T fails. */
static bool may_read(tb_library_task *t)
{
	sqlite3_stmt *stmt;
	bool mentor;
	int rc;

	if (tb__library_sees_all(t->role))
		return true;
	if (t->role != TB_ROLE_MENTOR) {
		tb__library_fail(t, TB_EPERM, NULL,
				 "only the session's mentors, curators and admins read attendance");
		return false;
	}
	stmt = tb__library_prepare(t, "SELECT EXISTS (SELECT 1 FROM attendance WHERE"
				      " session_id = ?1 AND user = ?2 AND role = 'mentor')");
	if (!stmt)
		return false;
	sqlite3_bind_text(stmt, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, t->user, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	mentor = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW) {
		tb__library_fail_db(t, rc, "read attendance");
		return false;
	}
	if (!mentor)
		tb__library_fail(t, TB_EPERM, NULL,
				 "only the session's mentors, curators and admins read attendance");
	return mentor;
}

void tb__library_run_attendance(tb_library_task *t)
{
	json_t *people, *visits;

	/* Existence and visibility first: 404 before 403, as elsewhere. */
	if (!tb__library_check_session(t, t->id) || !may_read(t))
		return;
	people = tb__library_read_list(
		t,
		"SELECT user, min(name), min(role),"
		" sum(max(coalesce(left_ms, joined_ms) - joined_ms, 0)), sum(speaking_ms),"
		" sum(hands_raised), sum(reading_turns), count(*)"
		" FROM attendance WHERE session_id = ?1 GROUP BY user ORDER BY min(joined_ms)",
		t->id, person_row);
	if (!people)
		return;
	visits = tb__library_read_list(
		t,
		"SELECT participant_id, user, role, joined_ms, left_ms, leave_reason, speaking_ms,"
		" hands_raised, reading_turns, name"
		" FROM attendance WHERE session_id = ?1 ORDER BY joined_ms, participant_id",
		t->id, visit_row);
	if (!visits) {
		json_decref(people);
		return;
	}
	t->reply.body = json_pack("{s:s, s:o, s:o}", "session_id", t->id, "participants", people,
				  "attendance", visits);
}
