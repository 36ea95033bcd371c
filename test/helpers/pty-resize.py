"""Runs a command in a pseudo-terminal of COLSxROWS, resizes the terminal to NEWCOLSxNEWROWS DELAY
seconds after the command first printed WAIT_FOR (the kernel sends the foreground job SIGWINCH), and
copies what the terminal was sent to stdout, with a line "\\n@@resized@@\\n" where the resize happened.
usage: pty-resize.py COLS ROWS NEWCOLS NEWROWS DELAY WAIT_FOR -- command args..."""
import fcntl, os, pty, select, struct, sys, termios, time

cols, rows, ncols, nrows = (int(a) for a in sys.argv[1:5])
delay = float(sys.argv[5])
wait_for = sys.argv[6].encode()
argv = sys.argv[sys.argv.index("--") + 1:]

def winsize(fd, c, r):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))

pid, fd = pty.fork()
if pid == 0:
    winsize(sys.stdin.fileno(), cols, rows)
    os.execvp(argv[0], argv)
winsize(fd, cols, rows)
start = None
seen = b""
resized = False
out = sys.stdout.buffer
while True:
    if not resized and start is not None and time.time() - start >= delay:
        winsize(fd, ncols, nrows)
        out.write(b"\n@@resized@@\n")
        resized = True
    r, _, _ = select.select([fd], [], [], 0.05)
    if fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out.write(data)
        out.flush()
        if start is None:
            seen = (seen + data)[-4096:]
            if wait_for in seen:
                start = time.time()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
