# Driven by tests/test_dalli.py: Ruby's Dalli (Debian's ruby-dalli, which
# speaks the binary protocol) as a mqd client, with its defaults, the way a
# Ruby application uses it.  Argument: the socket.  Prints one line per
# step, "<what> <result>", which the test compares exactly; "waiting"
# tells the test that a blocking read is about to wait.
require 'dalli'

def show(value)
  return value.inspect unless value.is_a?(String)

  value.b.match?(/\A[[:print:]]*\z/) ? "string:#{value}" : "hex:#{value.unpack1('H*')}"
end

def out(what, value)
  puts "#{what} #{show(value)}"
  $stdout.flush
end

# What a queue cannot do is refused with a status Dalli raises as an error.
def refused(what)
  out(what, yield)
rescue Dalli::DalliError => e
  puts "#{what} #{e.class} #{e.message}"
end

Dalli.logger.level = Logger::ERROR
path = ARGV.fetch(0)
mq = Dalli::Client.new(path)
out('version', mq.version[path])

# Hundreds of messages over three queues, taken back in order; Dalli
# marshals Ruby values by default, and reads them back.
fifo = (0...300).all? { |i| mq.set("fifo#{i % 3}", "message #{i}") }
fifo = (0...300).all? { |i| mq.get("fifo#{i % 3}") == "message #{i}" } && fifo
out('fifo', fifo)
out('empty', mq.get('fifo0'))
out('unknown', mq.get('never-used'))
out('marshalled', mq.set('ruby', { 'job' => [1, 2.5, nil] }) && mq.get('ruby'))

# raw: the bytes as they are, for and from other clients.
bin = (0..255).map(&:chr).join + "\r\nEND\r\n\0"
mq.set('bin', bin, 0, raw: true)
out('bin', mq.get('bin'))
mq.set('zero', '', 0, raw: true)
out('zero', mq.get('zero'))
out('zero gone', mq.get('zero'))
# Other clients' messages (flags 0) come as sent.
out('from python', mq.get('from-python'))

# A multi-get naming a queue twice takes one message of it.
%w[a1 a2].each { |v| mq.set('ma', v, 0, raw: true) }
mq.set('mb', 'b1', 0, raw: true)
out('get_multi', mq.get_multi('ma', 'mb', 'ma', 'mc').sort.to_h)
out('ma next', mq.get('ma'))

mq.set('gone', 'g')
out('delete', mq.delete('gone'))
out('delete again', mq.delete('gone'))
out('get gone', mq.get('gone'))

stats = mq.stats[path]
out('stats version', stats['version'])
out('stats curr_items', stats['curr_items'])
# Dalli asks for no group but items, slabs and settings.
out('stats items', mq.stats(:items))
out('stats slabs', mq.stats(:slabs))
settings = mq.stats(:settings)[path]
out('stats settings', settings.values_at('item_size_max', 'evictions',
                                         'cas_enabled'))

# A reliable read: given back by abort, taken for good by close.
mq.set('work', 'job 1', 0, raw: true)
out('open', mq.get('work/open'))
out('abort', mq.get('work/abort'))
out('open again', mq.get('work/open'))
out('close', mq.get('work/close'))
out('after close', mq.get('work'))

# Blocking reads: with Dalli's default 1-second socket timeout, /t= must
# stay under it; a client with a longer one waits longer.
out('timeout', mq.get('idle/t=200'))
patient = Dalli::Client.new(path, socket_timeout: 5)
puts 'waiting'
$stdout.flush
out('woken', patient.get('wake/t=3000'))

# What a queue cannot do: each refused once, the connection in step.
(1..6).each { |i| mq.set('u', "u#{i}", 0, raw: true) }
refused('add') { mq.add('u', 'x') }
out('get', mq.get('u'))
refused('replace') { mq.replace('u', 'x') }
refused('append') { mq.append('u', 'x') }
refused('prepend') { mq.prepend('u', 'x') }
out('get', mq.get('u'))
refused('incr') { mq.incr('u', 1) }
refused('decr') { mq.decr('u', 1) }
refused('touch') { mq.touch('u', 60) }
# cas gets the message (taken), then sets with its CAS: refused.
refused('cas') { mq.cas('u') { |v| "#{v} again" } }
out('get', mq.get('u'))
# Quiet sets in a multi block, then the NOOP that ends it.
mq.multi { %w[u7 u8].each { |v| mq.set('u', v, 0, raw: true) } }
out('rest', (1..5).map { mq.get('u') })
out('flush', mq.flush)
# ... and go as sent, to the test's raw client.
mq.set('for-python', bin, 0, raw: true)
