#!/usr/bin/perl
# A tagged English corpus that no one here wrote: real prose found on the machine, part-of-speech
# tagged by Debian's Lingua::EN::Tagger (apt-get install liblingua-en-tagger-perl; Penn Treebank
# tags as that tagger spells them: DET for DT, PP for sentence-final punctuation, PPC for commas …)
# and chunked into noun phrases with the tagger's own maximal-noun-phrase pattern, as BIO tags.
#
#   perl scripts/make-corpus.pl OUTDIR [TEXT FILES…]
#
# Default texts: the licences in /usr/share/common-licenses and Poe's collected works, which
# liblingua-stem-perl (a dependency of the tagger) ships in its examples. Writes, for each of
# train (8 sentences in 10), dev and test (1 in 10 each, by position):
#   OUTDIR/pos-SPLIT.txt      one sentence per line of word/TAG tokens
#   OUTDIR/chunks-SPLIT.conll CoNLL-2000 columns: word, POS tag, BIO noun-phrase tag; blank line between sentences
# The same input gives the same files (sentences in file order, split by position).
use strict;
use warnings;
use utf8;
use Lingua::EN::Tagger;
use Encode qw(decode FB_CROAK);

my ($out, @texts) = @ARGV;
die "usage: perl scripts/make-corpus.pl OUTDIR [TEXT FILES…]\n" unless defined $out;
@texts = ((sort glob('/usr/share/common-licenses/*')), '/usr/share/doc/liblingua-stem-perl/examples/collected_works_poe.txt') unless @texts;
mkdir $out unless -d $out;

my $tagger = Lingua::EN::Tagger->new(stem => 0);
my %fh;
for my $split (qw(train dev test)) {
  open($fh{"pos-$split"}, '>:encoding(UTF-8)', "$out/pos-$split.txt") or die "$out/pos-$split.txt: $!";
  open($fh{"chunks-$split"}, '>:encoding(UTF-8)', "$out/chunks-$split.conll") or die "$out/chunks-$split.conll: $!";
}

# The tagger's maximal noun phrase: [CD] (VBG|JJ*|VBN)* NN*+, over a sentence's tags.
sub np_bio {
  my @tags = @_;
  my @bio = ('O') x @tags;
  my $i = 0;
  while ($i < @tags) {
    my $j = $i;
    $j++ if $tags[$j] eq 'CD';
    $j++ while $j < @tags && $tags[$j] =~ /^(VBG|JJ[RS]?|VBN)$/;
    my $nouns = $j;
    $nouns++ while $nouns < @tags && $tags[$nouns] =~ /^NN[SP]*$/;
    if ($nouns > $j) {
      $bio[$i] = 'B-NP';
      $bio[$_] = 'I-NP' for $i + 1 .. $nouns - 1;
      $i = $nouns;
    } else {
      $i++;
    }
  }
  return @bio;
}

my $n = 0;
for my $file (@texts) {
  open(my $in, '<:raw', $file) or die "$file: $!";
  my $bytes = do { local $/; <$in> };
  close $in;
  # UTF-8, else Latin-1 (the Gutenberg texts of 2010 are).
  my $text = eval { decode('UTF-8', $bytes, FB_CROAK) } // decode('ISO-8859-1', $bytes);
  $text =~ s/\r\n?/\n/g;
  # Paragraphs: prose comes in blocks between blank lines.
  for my $para (split /\n\s*\n/, $text) {
    $para =~ s/-\n(\w)/$1/g;    # words hyphenated at a line break
    $para =~ s/\s+/ /g;
    $para =~ s/^ | $//g;
    # Prose only: enough words, few symbols (no tables, code, or headings in capitals).
    my $words = () = $para =~ /[A-Za-z]{2,}/g;
    next if $words < 8 || $para =~ /[{}<>|\\=_*#@]/ || $para !~ /[a-z]/ || $para !~ /[.!?]["')]?$/;
    my $tagged = $tagger->get_readable($para) or next;
    my @sentence;
    for my $token (split / /, $tagged) {
      my $at = rindex($token, '/');
      next if $at <= 0;
      push @sentence, [substr($token, 0, $at), substr($token, $at + 1)];
      if ($sentence[-1][1] eq 'PP' && $sentence[-1][0] =~ /^[.!?]$/) {
        emit(\@sentence) if @sentence >= 3;
        @sentence = ();
      }
    }
  }
}

sub emit {
  my ($s) = @_;
  my $split = $n % 10 == 8 ? 'dev' : $n % 10 == 9 ? 'test' : 'train';
  $n++;
  my @tags = map { $_->[1] } @$s;
  my @bio = np_bio(@tags);
  print { $fh{"pos-$split"} } join(' ', map { "$_->[0]/$_->[1]" } @$s), "\n";
  print { $fh{"chunks-$split"} } map({ "$s->[$_][0] $tags[$_] $bio[$_]\n" } 0 .. $#$s), "\n";
}

close $_ for values %fh;
print STDERR "$n sentences from ", scalar(@texts), " files into $out\n";
