// SPDX-License-Identifier: GPL-2.0
/*
 * ptyrun: run a program on a pseudo-terminal, as a user at a terminal
 * would, for vmxrun_test.sh (the rig's busybox has no script(1)).
 *
 *   ptyrun MARKER INPUT [MARKER INPUT...] -- PROG [ARGS...]
 *
 * PROG's terminal output is copied to stdout.  Once the first MARKER has
 * appeared in it, the first INPUT is typed ("^A" standing for Ctrl-A),
 * then the next pair waits for its MARKER in the output that follows.
 * Exits with PROG's status (128 + N if signal N ended it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define INPUT_MAX	256

/* "^A" -> 0x01; the rest as it is. */
static size_t decode_input(const char *in, char *out)
{
	size_t n = 0;

	while (*in) {
		if (in[0] == '^' && in[1] == 'A') {
			out[n++] = 0x01;
			in += 2;
		} else {
			out[n++] = *in++;
		}
	}
	return n;
}

static pid_t spawn_on_pty(int master, char **argv)
{
	const char *slave = ptsname(master);
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	setsid();
	fd = open(slave, O_RDWR);
	if (fd < 0)
		_exit(126);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(master);
	execv(argv[0], argv);
	_exit(127);
}

/* Copy output until EOF (the slave side closed), typing as told. */
static void copy_output(int master, char **pairs, int nr_pairs)
{
	char seen[4096] = "", buf[512], input[INPUT_MAX];
	size_t used = 0, len;
	int next = 0;
	ssize_t n;

	while ((n = read(master, buf, sizeof(buf))) > 0 || errno == EINTR) {
		if (n <= 0)
			continue;
		fwrite(buf, 1, n, stdout);
		fflush(stdout);
		if (next == nr_pairs)
			continue;
		if (used + n >= sizeof(seen))
			used = 0;	/* the marker fits in what is read next */
		memcpy(seen + used, buf, n);
		used += n;
		seen[used] = 0;
		if (!strstr(seen, pairs[2 * next]))
			continue;
		len = decode_input(pairs[2 * next + 1], input);
		if (write(master, input, len) != (ssize_t)len)
			perror("ptyrun: write");
		next++;
		used = 0;	/* the next marker must come after this */
		seen[0] = 0;
	}
}

int main(int argc, char **argv)
{
	int master, status, sep, i;
	bool bad;
	pid_t pid;

	for (sep = 1; sep < argc && strcmp(argv[sep], "--"); sep++)
		;
	bad = sep == 1 || sep >= argc - 1 || (sep - 1) % 2;
	for (i = 2; !bad && i < sep; i += 2)
		bad = strlen(argv[i]) >= INPUT_MAX;
	if (bad) {
		fprintf(stderr, "usage: ptyrun MARKER INPUT [MARKER INPUT...] -- PROG [ARGS...]\n");
		return 2;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		perror("ptyrun: pty");
		return 2;
	}
	pid = spawn_on_pty(master, argv + sep + 1);
	if (pid < 0) {
		perror("ptyrun: fork");
		return 2;
	}
	copy_output(master, argv + 1, (sep - 1) / 2);
	if (waitpid(pid, &status, 0) < 0)
		return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
