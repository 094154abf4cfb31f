/*
 * reference runs libsystemd's sd_listen_fds_with_names(1, &names), the
 * reference behaviour of the Go package, and prints what it returned,
 * which variables it left and which fds it marked close-on-exec, in the
 * format testdata/refgo prints for the Go package.
 *
 * REF_PID, when set, is "PREFIX|BASE|SUFFIX": LISTEN_PID is set to the
 * prefix, this process's pid written in BASE (2, 8, 10 or 16) and the
 * suffix, before the call. REF_PASS is the number of fds passed from 3 on.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sd_listen_fds_with_names(int unset_environment, char ***names);

static void set_pid(void) {
	const char *tmpl = getenv("REF_PID");
	if (!tmpl)
		return;
	char prefix[64] = "", suffix[64] = "", digits[80];
	int base = 10;
	const char *bar1 = strchr(tmpl, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
	if (!bar1 || !bar2 || bar1 - tmpl >= 64 || strlen(bar2 + 1) >= 64)
		exit(2);
	memcpy(prefix, tmpl, bar1 - tmpl);
	base = atoi(bar1 + 1);
	strcpy(suffix, bar2 + 1);
	unsigned long pid = (unsigned long) getpid();
	int n = 0;
	char rev[80];
	do {
		rev[n++] = "0123456789abcdef"[pid % base];
		pid /= base;
	} while (pid > 0);
	for (int i = 0; i < n; i++)
		digits[i] = rev[n - 1 - i];
	digits[n] = 0;
	char value[256];
	snprintf(value, sizeof value, "%s%s%s", prefix, digits, suffix);
	setenv("LISTEN_PID", value, 1);
}

static void hex(const char *s) {
	for (; *s; s++)
		printf("%02x", (unsigned char) *s);
}

int main(void) {
	set_pid();
	int pass = getenv("REF_PASS") ? atoi(getenv("REF_PASS")) : 0;
	char **names = NULL;
	int r = sd_listen_fds_with_names(1, &names);
	printf("result %d\n", r);
	for (int i = 0; r > 0 && i < r; i++) {
		printf("name ");
		hex(names[i]);
		printf("\n");
	}
	const char *vars[] = {"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"};
	for (int i = 0; i < 4; i++)
		if (getenv(vars[i]))
			printf("left %s\n", vars[i]);
	for (int fd = 3; fd < 3 + pass; fd++) {
		int flags = fcntl(fd, F_GETFD);
		printf("cloexec %d %d\n", fd, flags >= 0 && (flags & FD_CLOEXEC) != 0);
	}
	return 0;
}
