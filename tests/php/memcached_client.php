<?php
// Driven by tests/test_php_memcached.py: PHP's Memcached extension
// (libmemcached) as a mqd client, the way a PHP application uses it.
// Arguments: the socket, then "text" or "binary" (OPT_BINARY_PROTOCOL).
// Prints one line per step, "<what> <result>", which the test compares
// exactly; "waiting" tells the test that a blocking read is about to wait.

require __DIR__ . "/output.php";

// The call's result, then libmemcached's word for how it went.
function outcome($what, $m, $v)
{
    echo $what, " ", show($v), " ", $m->getResultMessage(), "\n";
}

if ($argc != 3) {
    fwrite(STDERR, "usage: php memcached_client.php SOCKET text|binary\n");
    exit(2);
}
$m = new Memcached();
// Compressed payloads could not be read by other clients: the one setting
// a mqd user needs (README).
$m->setOption(Memcached::OPT_COMPRESSION, false);
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, $argv[2] === "binary");
out("addServer", $m->addServer($argv[1], 0));

// Hundreds of messages over three queues, taken back in order.
$fifo = true;
for ($i = 0; $i < 300; $i++)
    $fifo = $m->set("fifo" . ($i % 3), "message $i") && $fifo;
out("sets", $fifo);
for ($i = 0; $i < 300; $i++)
    $fifo = $m->get("fifo" . ($i % 3)) === "message $i" && $fifo;
out("fifo", $fifo);
outcome("empty", $m, $m->get("fifo0"));
outcome("unknown", $m, $m->get("never-used"));

// Every byte value and the protocol's delimiters; an empty message.
$bin = "";
for ($i = 0; $i < 256; $i++)
    $bin .= chr($i);
$bin .= "\r\nEND\r\n\0";
out("set bin", $m->set("bin", $bin));
out("get bin", $m->get("bin"));
out("set zero", $m->set("zero", ""));
outcome("get zero", $m, $m->get("zero"));
outcome("zero gone", $m, $m->get("zero"));

// A multi-get naming a queue twice takes one message of it.
$m->set("ma", "a1");
$m->set("ma", "a2");
$m->set("mb", "b1");
$multi = $m->getMulti(array("ma", "mb", "ma", "mc"));
ksort($multi);
out("getMulti", $multi);
out("ma next", $m->get("ma"));

// delete drops a queue and its messages.
$m->set("gone", "g1");
out("delete", $m->delete("gone"));
outcome("delete again", $m, $m->delete("gone"));
out("get gone", $m->get("gone"));

$stats = $m->getStats();
$mine = reset($stats);
out("stats servers", count($stats));
out("stats version", $mine["version"]);
out("stats curr_items", (string) $mine["curr_items"]);
$versions = $m->getVersion();
out("getVersion", reset($versions));

// A reliable read: given back by abort, taken for good by close.
$m->set("work", "job 1");
out("open", $m->get("work/open"));
outcome("abort", $m, $m->get("work/abort"));
out("open again", $m->get("work/open"));
outcome("close", $m, $m->get("work/close"));
outcome("after close", $m, $m->get("work"));

// Blocking reads, under the client's timeout: one times out, one is woken
// by the test's producer.
outcome("timeout", $m, $m->get("idle/t=200"));
echo "waiting\n";
out("woken", $m->get("wake/t=3000"));

// What memcache clients send that a queue cannot do: each is answered
// once, and the next get and set on the connection are in step.
$m->set("u", "u1");
$m->set("u", "u2");
$m->set("u", "u3");
$m->set("u", "u4");
outcome("add", $m, $m->add("u", "x"));
out("get", $m->get("u"));
outcome("replace", $m, $m->replace("u", "x"));
outcome("append", $m, $m->append("u", "x"));
out("get", $m->get("u"));
outcome("prepend", $m, $m->prepend("u", "x"));
$peek = $m->get("u/peek", null, Memcached::GET_EXTENDED);
out("peek", $peek["value"]);
outcome("cas", $m, $m->cas($peek["cas"], "u", "x"));
out("get", $m->get("u"));
outcome("touch", $m, $m->touch("u", 60));
outcome("increment", $m, $m->increment("u"));
outcome("decrement", $m, $m->decrement("u"));
out("set", $m->set("u", "u5"));
out("get", $m->get("u"));
out("get", $m->get("u"));
outcome("get", $m, $m->get("u"));
