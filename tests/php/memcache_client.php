<?php
// Driven by tests/test_php_memcache.py: PHP's memcache extension as a mqd
// client over the Unix socket given as the only argument.  Prints one line
// per call, "<what> <result>", which the test compares exactly.
// Only strings are stored: the extension sets flags for other types.

require __DIR__ . "/output.php";

if ($argc != 2) {
    fwrite(STDERR, "usage: php memcache_client.php SOCKET\n");
    exit(2);
}
$m = new Memcache;
$ok = $m->connect('unix://' . $argv[1], 0);
out("connect", $ok);
if (!$ok)
    exit(1);

// MemcacheQ's transcript through the extension.
out("set q4", $m->set('q4', 'hello'));
out("set q4", $m->set('q4', 'world'));
out("get q4", $m->get('q4'));
out("get q4", $m->get('q4'));
out("get q4", $m->get('q4'));             // empty: false

// Every byte value and the protocol's delimiters, below the compression
// threshold so the extension sends it as it is.
$bin = '';
for ($i = 0; $i < 256; $i++)
    $bin .= chr($i);
$bin .= "\r\nEND\r\n" . strrev($bin);
out("set bin", $m->set('bin', $bin));
$got = $m->get('bin');
out("get bin", $got);
out("bin same", $got === $bin);

// Several queues in one get: one message from each that has one.
out("set ma", $m->set('ma', 'a1'));
out("set mb", $m->set('mb', 'b1'));
out("get ma,mb,mc", $m->get(array('ma', 'mb', 'mc')));

// delete drops the queue with its messages.
out("set gone", $m->set('gone', 'x'));
out("set gone", $m->set('gone', 'y'));
out("delete gone", $m->delete('gone'));
out("get gone", $m->get('gone'));
out("delete gone", $m->delete('gone'));

// Left for the test to find over the raw socket.
out("set left", $m->set('left', 'leftover'));
out("close", $m->close());
