#!/usr/bin/env python3
"""A stand-in for systemd-logind's Inhibit(), on a private D-Bus daemon, so logind_inhibitor runs end to end here.

Usage: fake_logind.py TEST_BINARY
Starts dbus-daemon (session configuration: any name may be owned), serves org.freedesktop.login1.Manager.Inhibit
on it like logind does (returns the write end of a pipe and watches the read end for the client closing it), points
DBUS_SYSTEM_BUS_ADDRESS at it and runs TEST_BINARY's hidden "[logind_live]" cases. The test reads what the fake saw
through PowerbatchTestState() -> (inhibits, currently open, last what/who/why/mode).
Exits 77 (skip) when dbus-daemon, python3-dbus or python3-gi is missing.
"""
import os
import subprocess
import sys

try:
    import dbus
    import dbus.service
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib
except ImportError as e:
    # Debian's python3-dbus is for the system interpreter; a pyenv or venv python3 first on PATH lacks it.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print(f"SKIP: {e} (install python3-dbus and python3-gi)")
    sys.exit(77)

BUS_NAME = "org.freedesktop.login1"
PATH = "/org/freedesktop/login1"
IFACE = "org.freedesktop.login1.Manager"


class FakeLogind(dbus.service.Object):
    def __init__(self, conn):
        super().__init__(conn, PATH)
        self.inhibits = 0
        self.open = 0
        self.last = ("", "", "", "")

    @dbus.service.method(IFACE, in_signature="ssss", out_signature="h")
    def Inhibit(self, what, who, why, mode):
        if mode not in ("block", "delay"):
            raise dbus.exceptions.DBusException("Invalid mode specification " + mode,
                                                name="org.freedesktop.DBus.Error.InvalidArgs")
        self.inhibits += 1
        self.open += 1
        self.last = (str(what), str(who), str(why), str(mode))
        read_end, write_end = os.pipe()

        def closed(fd, condition):
            self.open -= 1
            os.close(fd)
            return False

        GLib.io_add_watch(read_end, GLib.PRIORITY_DEFAULT, GLib.IO_HUP | GLib.IO_ERR, closed)
        fd = dbus.types.UnixFd(write_end)  # dbus-python duplicates it
        os.close(write_end)
        return fd

    @dbus.service.method(IFACE, in_signature="", out_signature="uussss")
    def PowerbatchTestState(self):
        return (self.inhibits, self.open) + self.last


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    try:
        daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                  stdout=subprocess.PIPE, text=True)
    except FileNotFoundError:
        print("SKIP: dbus-daemon not found (install dbus-daemon)")
        return 77
    try:
        address = daemon.stdout.readline().strip()
        DBusGMainLoop(set_as_default=True)
        conn = dbus.bus.BusConnection(address)
        name = dbus.service.BusName(BUS_NAME, conn)  # owned while this reference lives
        service = FakeLogind(conn)
        loop = GLib.MainLoop()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, PB_FAKE_LOGIND="1")
        test = subprocess.Popen([sys.argv[1], "[logind_live]"], env=env)
        status = {}

        def finished(pid, wait_status):
            status["code"] = os.waitstatus_to_exitcode(wait_status)
            loop.quit()

        GLib.child_watch_add(GLib.PRIORITY_DEFAULT, test.pid, finished)
        GLib.timeout_add_seconds(120, lambda: (test.kill(), False)[1])
        loop.run()  # serves the bus until the test program exits
        print(f"fake logind saw {service.inhibits} Inhibit call(s), {service.open} still open")
        del name  # release the name while the daemon is still there to answer
        return status.get("code", 1)
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    sys.exit(main())
