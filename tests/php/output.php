<?php
// The output of the PHP client tests: one line per step, "<what> <result>",
// which the Python side compares exactly.

function show($v)
{
    if ($v === false)
        return "false";
    if ($v === true)
        return "true";
    if (is_string($v))
        return ctype_print($v) || $v === "" ? "string:" . $v
            : "hex:" . bin2hex($v);
    if (is_array($v)) {
        $parts = array();
        foreach ($v as $key => $item)
            $parts[] = $key . "=" . show($item);
        return "array:" . implode(",", $parts);
    }
    return "other:" . var_export($v, true);
}

function out($what, $v)
{
    echo $what, " ", show($v), "\n";
}
